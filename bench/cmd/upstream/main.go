// Command upstream is the backend of the gate benchmark: it answers every
// request with 200 and a two-byte body, on 127.0.0.1.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"strconv"
	"time"
)

func main() {
	port := flag.Int("port", 9000, "TCP port to listen on, on 127.0.0.1")
	flag.Parse()
	body := []byte("ok")
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(*port))
	hs := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("upstream on http://%s", addr)
	log.Fatal(hs.ListenAndServe())
}
