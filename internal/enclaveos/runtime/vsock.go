package runtime

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"time"

	"github.com/mdlayher/vsock"
)

// cidAny is VMADDR_CID_ANY: a listener bound to it accepts connections to
// any of this machine's context IDs, which spares the parent from knowing
// its own (enclaves see it as ParentCID).
const cidAny = math.MaxUint32

// agentTimeout bounds one request of the agent to the relay; the relay's
// own request to the server takes at most relayTimeout.
const agentTimeout = relayTimeout + 30*time.Second

// ListenVsock listens for vsock connections on port. In a container, the
// socket family must be allowed: Docker's default seccomp profile refuses
// AF_VSOCK.
func ListenVsock(port uint32) (net.Listener, error) {
	l, err := vsock.ListenContextID(cidAny, port, nil)
	if err != nil {
		return nil, fmt.Errorf("listening on vsock port %d: %w", port, err)
	}
	return l, nil
}

// VsockHTTPClient returns an HTTP client whose every connection goes to
// port of the vsock context ID cid, whatever the URL's host: the agent's
// way to the parent's relay. It ignores proxy settings from the
// environment.
func VsockHTTPClient(cid, port uint32) *http.Client {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		c, err := vsock.DialContext(ctx, cid, port, nil)
		if err != nil {
			return nil, fmt.Errorf("dialing vsock %d:%d: %w", cid, port, err)
		}
		return c, nil
	}
	return &http.Client{
		Transport: &http.Transport{DialContext: dial, MaxIdleConns: 2, IdleConnTimeout: 30 * time.Second},
		Timeout:   agentTimeout,
	}
}

// allowPeer reports whether a connection from addr may use the relay:
// over vsock, only the enclave the parent started (cid, zero while it is
// not known yet) may; other transports are the tests'.
func allowPeer(addr net.Addr, cid uint64) bool {
	a, ok := addr.(*vsock.Addr)
	if !ok {
		return true
	}
	return cid != 0 && uint64(a.ContextID) == cid
}
