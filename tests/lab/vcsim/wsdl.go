package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"time"
)

// wsdlPath is where SOAP clients that build their calls from a WSDL, such
// as oslo.vmware (suds) under nova's VMware driver, fetch it: vCenter
// serves vimService.wsdl beside the SDK endpoint. 0.24 serves none (404).
const wsdlPath = "/sdk/vimService.wsdl"

// wsdlDocument is the WSDL the simulator serves. The lab generates it from
// pyVmomi's type registry for the API version this simulator announces
// (6.5): tests/lab/wsdl/generate_vim_wsdl.py.
type wsdlDocument struct {
	content  []byte
	modified time.Time
}

// loadWSDL reads the file once, before the listener opens, so that a
// missing or wrong file is an error at start and not a 404 later.
func loadWSDL(file string) (*wsdlDocument, error) {
	if file == "" {
		return nil, nil
	}
	content, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading the WSDL: %w", err)
	}
	if !bytes.Contains(content, []byte(`<service name="VimService">`)) {
		return nil, fmt.Errorf("%s is not a vim25 WSDL: it defines no VimService", file)
	}
	doc := &wsdlDocument{content: content, modified: time.Now()}
	if info, err := os.Stat(file); err == nil {
		doc.modified = info.ModTime()
	}
	return doc, nil
}

// serve registers the document at wsdlPath; a nil document serves nothing.
func (doc *wsdlDocument) serve(mux *http.ServeMux) {
	if doc == nil {
		return
	}
	mux.HandleFunc(wsdlPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		http.ServeContent(w, r, "vimService.wsdl", doc.modified, bytes.NewReader(doc.content))
	})
}

// dateTimeElement matches an element whose text is an xsd:dateTime without
// a time zone, such as oslo.vmware's datetime.now().isoformat().
var dateTimeElement = regexp.MustCompile(`<((?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*))((?:\s[^>]*)?)>(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?)</`)

// dateTimeNames lists the element names the WSDL types xsd:dateTime.
func (doc *wsdlDocument) dateTimeNames() map[string]bool {
	names := map[string]bool{}
	for _, m := range regexp.MustCompile(`<element name="([^"]+)" type="xsd:dateTime"`).FindAllSubmatch(doc.content, -1) {
		names[string(m[1])] = true
	}
	return names
}

// acceptZonelessDateTimes lets requests carry xsd:dateTime values without a
// time zone, which XML Schema allows and vCenter accepts (taking them as
// UTC): oslo.vmware sends RegisterExtension's lastHeartbeatTime so. 0.24
// decodes times as RFC 3339 only and faults the whole call. Only elements
// that the WSDL types xsd:dateTime are touched.
func (doc *wsdlDocument) acceptZonelessDateTimes(next http.Handler) http.Handler {
	if doc == nil {
		return next
	}
	names := doc.dateTimeNames()
	return onSOAPCall(next, func(w http.ResponseWriter, r *http.Request, body []byte) {
		body = dateTimeElement.ReplaceAllFunc(body, func(match []byte) []byte {
			parts := dateTimeElement.FindSubmatch(match)
			if !names[string(parts[2])] {
				return match
			}
			return append(match[:len(match)-2:len(match)-2], []byte("Z</")...)
		})
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}
