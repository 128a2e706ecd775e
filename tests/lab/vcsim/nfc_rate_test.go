package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

func putRate(t *testing.T, base, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, base+nfcRatePath, strings.NewReader(body))
	must(t, err)
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	defer res.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(res.Body)
	return res.StatusCode, strings.TrimSpace(out.String())
}

func TestNFCRateLimitsAnExportDownloadUntilSetBackToZero(t *testing.T) {
	withExportFormat(t, formatRaw)
	ctx, client, base := diskLab(t)
	t.Cleanup(func() { nfcRate.Store(0) })
	vm := newDiskVM(ctx, t, client, "slow-export", 1)
	ref, err := exportVm(ctx, client, vm)
	must(t, err)
	lease := readyLease(ctx, t, client, ref)
	u := strings.Replace(lease.Info.DeviceUrl[0].Url, "https://*", base, 1)

	if status, body := putRate(t, base, "a lot"); status != http.StatusBadRequest {
		t.Fatalf("a rate that is no number: %d %s", status, body)
	}
	if status, body := putRate(t, base, "2097152"); status != http.StatusOK || body != "2097152" {
		t.Fatalf("set: %d %s", status, body)
	}
	// 1 MiB at 2 MiB/s: at least half a second (a lower bound only: a busy machine is slower, never faster).
	started := time.Now()
	status, got := get(t, u, "")
	if took := time.Since(started); status != http.StatusOK || len(got) != 1<<20 || took < 450*time.Millisecond {
		t.Fatalf("throttled download: %d, %d bytes in %s", status, len(got), took)
	}
	if status, body := putRate(t, base, "0"); status != http.StatusOK || body != "0" {
		t.Fatalf("reset: %d %s", status, body)
	}
	if status, got := get(t, u, ""); status != http.StatusOK || len(got) != 1<<20 {
		t.Fatalf("download after the reset: %d, %d bytes", status, len(got))
	}
}
