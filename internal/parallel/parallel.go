// Package parallel runs loops over indexes on a bounded number of goroutines.
// The GBDT trainer and the native model's batch prediction share it.
package parallel

import (
	"sync"
	"sync/atomic"
)

// For runs fn(0..n-1) on at most threads goroutines, handing out indexes in
// order, and returns when every call has returned. fn must only write state
// owned by its index. With threads <= 1 or n <= 1 it runs in the caller's
// goroutine.
func For(threads, n int, fn func(i int)) {
	if threads <= 1 || n <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	w := min(threads, n)
	wg.Add(w)
	for range w {
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}
