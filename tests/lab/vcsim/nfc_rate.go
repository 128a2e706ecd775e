package main

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The lab's own knob on export downloads: PUT /lab/nfc-rate with a body of
// bytes per second limits every export lease's disk download from then on (0,
// the default, is no limit); GET reads it. A test makes a copy last long enough
// to watch its progress or to cut it in the middle, whatever the machine's speed
// (vCenter's downloads run at the network's and the datastore's pace).
const nfcRatePath = "/lab/nfc-rate"

var nfcRate atomic.Int64

func serveNFCRate(mux *http.ServeMux) {
	mux.HandleFunc(nfcRatePath, func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
		case http.MethodPut:
			body, err := io.ReadAll(io.LimitReader(r.Body, 64))
			rate, perr := strconv.ParseInt(strings.TrimSpace(string(body)), 10, 64)
			if err != nil || perr != nil || rate < 0 {
				http.Error(w, "the body is the bytes per second, 0 for no limit", http.StatusBadRequest)
				return
			}
			nfcRate.Store(rate)
		default:
			w.Header().Set("Allow", "GET, PUT")
			http.Error(w, "GET reads the rate, PUT sets it", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, strconv.FormatInt(nfcRate.Load(), 10)+"\n")
	})
}

// throttled writes at most rate bytes per second on average: after each write
// it sleeps until the bytes written so far are due.
type throttled struct {
	http.ResponseWriter
	rate    int64
	started time.Time
	written int64
}

func withNFCRate(w http.ResponseWriter) http.ResponseWriter {
	rate := nfcRate.Load()
	if rate <= 0 {
		return w
	}
	return &throttled{ResponseWriter: w, rate: rate, started: time.Now()}
}

func (t *throttled) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := len(p)
		if limit := int(t.rate / 10); limit > 0 && n > limit { // a tenth of a second's worth at a time
			n = limit
		}
		m, err := t.ResponseWriter.Write(p[:n])
		written += m
		t.written += int64(m)
		if err != nil {
			return written, err
		}
		p = p[n:]
		due := t.started.Add(time.Duration(float64(t.written) / float64(t.rate) * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
	}
	return written, nil
}
