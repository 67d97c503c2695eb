//go:build linux

package agent

import (
	"testing"
	"unsafe"
)

func TestLegacyRequestHasTheDriversLayout(t *testing.T) {
	var r legacyRequest
	got := map[string]uintptr{
		"size":          unsafe.Sizeof(r),
		"request_len":   unsafe.Offsetof(r.requestLen),
		"request_addr":  unsafe.Offsetof(r.requestAddr),
		"response_len":  unsafe.Offsetof(r.responseLen),
		"response_addr": unsafe.Offsetof(r.responseAddr),
		"error":         unsafe.Offsetof(r.fwError),
	}
	want := map[string]uintptr{"size": 40, "request_len": 4, "request_addr": 8, "response_len": 16, "response_addr": 24, "error": 32}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %d, want %d", k, got[k], w)
		}
	}
	// _IOWR('S', 1, struct of 40 bytes)
	if want := uintptr(3<<30 | 40<<16 | 'S'<<8 | 1); legacyIoctlReport != want {
		t.Errorf("ioctl %#x, want %#x", legacyIoctlReport, want)
	}
}
