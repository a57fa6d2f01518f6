// Command peer serves servingbench.PeerHandler, the bare net/http baseline of
// the serving benchmark, and prints its URL.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	servingbench "github.com/ferry-ml/ferry/bench/serving"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("peer on http://%s\n", ln.Addr())
	os.Stdout.Sync()
	log.Fatal(http.Serve(ln, servingbench.PeerHandler()))
}
