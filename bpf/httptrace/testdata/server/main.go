// server is the unmodified net/http program the httptrace test watches: it listens on 127.0.0.1 at
// an ephemeral port, prints "listening <port>", and answers /sleep/<ms> after sleeping that long and
// anything else at once (404 for /missing).
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/sleep/") {
			ms, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/sleep/"))
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "ok %s\n", r.URL.Path)
	})
	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)
	http.Serve(ln, nil)
}
