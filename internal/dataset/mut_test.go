package dataset

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

func TestMutateParquet(t *testing.T) {
	if os.Getenv("MUT") == "" {
		t.Skip()
	}
	t0 := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	seeds := [][]byte{
		parquetBytes(t, []plainRow{{ID: 1, Name: "a", Score: ptr(0.5)}, {ID: 2, Name: "b"}}),
		parquetBytes(t, []catRow{{C: ptr("x"), N: 1}, {N: 2}, {C: ptr("y"), N: 1}}),
		parquetBytes(t, []digestRow{{When: t0.UnixMicro(), Delay: ptr[int64](3), City: ptr("ORD")}, {When: t0.UnixMicro() + 1}}),
		parquetBytes(t, []allTypesRow{{I32: 1, S: ptr("s"), P: "p", TS: &t0, Dec: 5, U: 3}}),
		parquetBytes(t, []catRow{{C: ptr("x"), N: 1}, {N: 2}, {C: ptr("y"), N: 1}}, parquet.Compression(&parquet.Snappy)),
		parquetBytes(t, []catRow{{C: ptr("x"), N: 1}, {N: 2}, {C: ptr("y"), N: 1}}, parquet.Compression(&parquet.Zstd)),
		parquetBytes(t, []catRow{{C: ptr("x"), N: 1}, {N: 2}, {C: ptr("y"), N: 1}}, parquet.Compression(&parquet.Lz4Raw)),
		parquetBytes(t, []catRow{{C: ptr("x"), N: 1}, {N: 2}, {C: ptr("y"), N: 1}}, parquet.Compression(&parquet.Gzip), parquet.DataPageVersion(1)),
	}
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	deadline := time.Now().Add(60 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		d := bytes.Clone(seeds[r.IntN(len(seeds))])
		for k := r.IntN(4) + 1; k > 0; k-- {
			switch r.IntN(3) {
			case 0:
				d[r.IntN(len(d))] = byte(r.IntN(256))
			case 1:
				d[r.IntN(len(d))] ^= 1 << r.IntN(8)
			case 2:
				i := r.IntN(len(d))
				d[i] = []byte{0, 0xff, 0x7f, 0x80, 0x15, 0x16, 0x19}[r.IntN(7)]
			}
		}
		os.WriteFile("/tmp/cur.bin", d, 0o644)
		start := time.Now()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		ReadParquet(context.Background(), bytes.NewReader(d), int64(len(d)), "m.parquet", ReadOptions{})
		runtime.ReadMemStats(&m1)
		if m1.TotalAlloc-m0.TotalAlloc > 200<<20 {
			os.WriteFile("/tmp/big.bin", d, 0o644)
			t.Fatalf("allocated %d MB", (m1.TotalAlloc-m0.TotalAlloc)>>20)
		}
		if time.Since(start) > 2*time.Second {
			os.WriteFile("/tmp/slow.bin", d, 0o644)
			t.Fatalf("slow: %v", time.Since(start))
		}
		n++
	}
	t.Logf("%d runs", n)
}
