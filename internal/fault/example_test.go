package fault_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/multinic/multinic/internal/fault"
)

// A fake embeds an Injector and asks it, per request, whether to fail.
func ExampleInjector() {
	var faults fault.Injector
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		faults.Arrive() // counts the request; returns the latency to inject
		if f, ok := faults.Take(); ok {
			f.Serve(w, r, nil, func(w http.ResponseWriter, status int) { http.Error(w, "injected", status) })
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	defer srv.Close()

	faults.Fail(http.StatusBadGateway, 1)
	for range 2 {
		resp, err := http.Get(srv.URL)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	fmt.Println(faults.Requests(), "requests")
	// Output:
	// 502
	// 200
	// 2 requests
}
