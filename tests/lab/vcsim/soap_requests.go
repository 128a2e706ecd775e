package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"sync"
)

// The lab's own instrument: every SOAP request served at /sdk is counted by
// its method (the first element inside the envelope's Body), and the counts
// are served at soapRequestsPath:
//
//	GET             -> {"total": n, "methods": {"RetrievePropertiesEx": n, ...}}
//	POST or DELETE  -> the counts so far, then they start again from zero
//
// The endpoint needs no session: it reveals only how many calls of each
// method were made, nothing of the inventory, and a benchmark reads it
// between runs without logging in (which would count itself).
const soapRequestsPath = "/lab/soap-requests"

// soapCounts counts requests by method.
type soapCounts struct {
	mu      sync.Mutex
	total   int
	methods map[string]int
}

type soapCountsJSON struct {
	Total   int            `json:"total"`
	Methods map[string]int `json:"methods"`
}

func newSOAPCounts() *soapCounts { return &soapCounts{methods: map[string]int{}} }

func (c *soapCounts) add(method string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total++
	c.methods[method]++
}

// snapshot returns the counts, and clears them when reset is set.
func (c *soapCounts) snapshot(reset bool) soapCountsJSON {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := soapCountsJSON{Total: c.total, Methods: c.methods}
	if reset {
		c.total, c.methods = 0, map[string]int{}
	} else {
		out.Methods = make(map[string]int, len(c.methods))
		for k, v := range c.methods {
			out.Methods[k] = v
		}
	}
	return out
}

// withSOAPCounts counts the SOAP calls to /sdk that reach next and serves
// the counts at soapRequestsPath.
func withSOAPCounts(counts *soapCounts, next http.Handler) http.Handler {
	calls := onSOAPCall(next, func(w http.ResponseWriter, r *http.Request, body []byte) {
		counts.add(soapMethod(body))
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != soapRequestsPath {
			calls.ServeHTTP(w, r)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodPost, http.MethodDelete:
		default:
			w.Header().Set("Allow", "GET, POST, DELETE")
			http.Error(w, "GET reads the counts, POST or DELETE reads and resets them", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(counts.snapshot(r.Method != http.MethodGet))
	})
}

// soapMethod is the local name of the first element inside the envelope's
// Body, or "(unreadable)" for a body that is not such an envelope. The
// decoder stops there: the rest of the request is not parsed.
func soapMethod(body []byte) string {
	decoder := xml.NewDecoder(bytes.NewReader(body))
	inBody := false
	for {
		token, err := decoder.Token()
		if err != nil {
			return "(unreadable)"
		}
		if start, ok := token.(xml.StartElement); ok {
			if inBody {
				return start.Name.Local
			}
			inBody = start.Name.Local == "Body"
		}
	}
}
