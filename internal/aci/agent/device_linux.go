//go:build linux

package agent

import (
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"unsafe"

	sevclient "github.com/google/go-sev-guest/client"
)

// The SEV-SNP guest devices, newest first.
const (
	// SEVGuestDevice is the upstream Linux driver's device (Linux 5.19
	// and later).
	SEVGuestDevice = "/dev/sev-guest"
	// LegacySEVDevice is the device of the 5.x kernels of Azure's
	// confidential container UVMs, whose driver predates the upstream one
	// and has another ioctl.
	LegacySEVDevice = "/dev/sev"
)

// SEVGuest is the SEV-SNP guest device of the container's UVM. It asks for
// reports at VMPL 0, the level of an ACI UVM.
type SEVGuest struct{}

var _ Device = SEVGuest{}

// Report returns a report for reportData from SEVGuestDevice, or from
// LegacySEVDevice when only that one exists.
func (SEVGuest) Report(_ context.Context, reportData [64]byte) ([]byte, error) {
	if _, err := os.Stat(SEVGuestDevice); err == nil {
		d, err := sevclient.OpenDevice()
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", SEVGuestDevice, err)
		}
		defer d.Close()
		raw, err := sevclient.GetRawReportAtVmpl(d, reportData, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: getting a report: %w", SEVGuestDevice, err)
		}
		return raw, nil
	}
	if _, err := os.Stat(LegacySEVDevice); err == nil {
		return legacyReport(reportData)
	}
	return nil, fmt.Errorf("no SEV-SNP guest device (%s or %s): not a confidential container group: %w",
		SEVGuestDevice, LegacySEVDevice, fs.ErrNotExist)
}

// The legacy driver's interface (the SEV-SNP firmware ABI's
// MSG_REPORT_REQ and MSG_REPORT_RSP, wrapped in the driver's own request).
const (
	legacyIoctlReport = 0xC0285301 // _IOWR('S', 1, legacyRequest)
	msgReportReq      = 5
	msgReportRsp      = 6
	reportReqSize     = 96   // report_data, vmpl, reserved
	reportRspSize     = 1280 // status, report_size, reserved, report, padding
	reportRspOffset   = 0x20 // where the report starts in the response
)

// legacyRequest is the legacy driver's struct sev_snp_guest_request. Go
// lays it out as C does on amd64: 40 bytes.
type legacyRequest struct {
	reqMsgType   uint8
	rspMsgType   uint8
	msgVersion   uint8
	_            uint8
	requestLen   uint16
	_            uint16
	requestAddr  uint64
	responseLen  uint16
	_            [6]byte
	responseAddr uint64
	fwError      uint32
	_            uint32
}

// legacyReport gets a report at VMPL 0 from LegacySEVDevice.
func legacyReport(reportData [64]byte) ([]byte, error) {
	fd, err := syscall.Open(LegacySEVDevice, syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", LegacySEVDevice, err)
	}
	defer syscall.Close(fd)
	// The request holds the addresses of the two messages: they live in a
	// mapping of their own, which the garbage collector never moves.
	buf, err := syscall.Mmap(-1, 0, os.Getpagesize(), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("%s: allocating the messages: %w", LegacySEVDevice, err)
	}
	defer syscall.Munmap(buf)
	req, rsp := buf[:reportReqSize], buf[reportReqSize:reportReqSize+reportRspSize]
	copy(req, reportData[:]) // vmpl (req[64:68]) and the rest stay zero

	r := legacyRequest{
		reqMsgType:   msgReportReq,
		rspMsgType:   msgReportRsp,
		msgVersion:   1,
		requestLen:   reportReqSize,
		requestAddr:  uint64(uintptr(unsafe.Pointer(&req[0]))),
		responseLen:  reportRspSize,
		responseAddr: uint64(uintptr(unsafe.Pointer(&rsp[0]))),
	}
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), legacyIoctlReport, uintptr(unsafe.Pointer(&r)))
	if errno != 0 {
		return nil, fmt.Errorf("%s: getting a report (firmware error %#x): %w", LegacySEVDevice, r.fwError, errno)
	}
	if status := binary.LittleEndian.Uint32(rsp[0:4]); status != 0 {
		return nil, fmt.Errorf("%s: the firmware refused the report request: status %#x", LegacySEVDevice, status)
	}
	if size := binary.LittleEndian.Uint32(rsp[4:8]); size != reportSize {
		return nil, fmt.Errorf("%s: the report has %d bytes, not %d", LegacySEVDevice, size, reportSize)
	}
	return append([]byte(nil), rsp[reportRspOffset:reportRspOffset+reportSize]...), nil
}
