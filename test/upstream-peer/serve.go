// The `serve-endpoint` command: upstream's own Go SDK endpoint chain (sdk v1.18.0 chains/endpoint:
// updatepath, begin, updatetoken, authorize, metadata, timeout, monitor) serving on a unix socket,
// registered through our nsmgr, so that our forwarder's Requests reach it. Upstream's updatetoken
// reads the previous hop's token and expiry from the call metadata (`nsm-client-token`,
// `nsm-client-token-expires`) and logs a warning when they are missing or malformed; this command
// logs through logrus at warn level to stderr, where the test looks for those warnings. It prints
// one JSON line per Request and Close that reaches the end of the chain.
//
// What upstream's endpoint has here that our forwarder cannot give it: none needed. Its default
// authorize policy is Any (v1.18.0), and upstream's kernel mechanism (sdk-kernel) is replaced by the
// few lines of `kernelMechanism` below, which answer what sdk-kernel would (the endpoint's own
// network namespace as inode://DEV/INO and an interface name): our forwarder builds the interface.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/golang/protobuf/ptypes/empty"
	"github.com/networkservicemesh/api/pkg/api/networkservice"
	"github.com/networkservicemesh/api/pkg/api/networkservice/mechanisms/cls"
	"github.com/networkservicemesh/api/pkg/api/networkservice/mechanisms/kernel"
	"github.com/networkservicemesh/api/pkg/api/registry"
	"github.com/networkservicemesh/sdk/pkg/networkservice/chains/endpoint"
	"github.com/networkservicemesh/sdk/pkg/networkservice/core/next"
	"github.com/networkservicemesh/sdk/pkg/networkservice/ipam/point2pointipam"
	"github.com/networkservicemesh/sdk/pkg/tools/log"
	"github.com/networkservicemesh/sdk/pkg/tools/log/logruslogger"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// kernelMechanism answers a KERNEL preference as upstream's sdk-kernel endpoint does.
type kernelMechanism struct{ netnsURL string }

func (k *kernelMechanism) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	conn := req.GetConnection()
	if conn.GetMechanism().GetType() != kernel.MECHANISM {
		for _, m := range req.GetMechanismPreferences() {
			if m.GetType() == kernel.MECHANISM {
				params := map[string]string{}
				for key, v := range m.GetParameters() {
					params[key] = v
				}
				if params[kernel.InterfaceNameKey] == "" {
					params[kernel.InterfaceNameKey] = "nsm-up"
				}
				conn.Mechanism = &networkservice.Mechanism{Cls: cls.LOCAL, Type: kernel.MECHANISM, Parameters: params}
				break
			}
		}
	}
	if conn.GetMechanism().GetType() != kernel.MECHANISM {
		return nil, fmt.Errorf("no KERNEL mechanism among %v", req.GetMechanismPreferences())
	}
	conn.Mechanism.Parameters[kernel.NetNSURL] = k.netnsURL
	return next.Server(ctx).Request(ctx, req)
}

func (k *kernelMechanism) Close(ctx context.Context, conn *networkservice.Connection) (*empty.Empty, error) {
	return next.Server(ctx).Close(ctx, conn)
}

// events prints what reached the end of the chain: the previous hop's segment as upstream's
// updatetoken left it (token and expiry taken from the call metadata).
type events struct{}

func (events) print(kind string, conn *networkservice.Connection) {
	prev := conn.GetPrevPathSegment()
	b, _ := json.Marshal(map[string]any{
		"event":       kind,
		"id":          conn.GetId(),
		"state":       conn.GetState().String(),
		"prevName":    prev.GetName(),
		"prevToken":   prev.GetToken(),
		"prevExpires": prev.GetExpires().AsTime().Format(time.RFC3339Nano),
	})
	fmt.Println(string(b))
}

func (e events) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	e.print("request", req.GetConnection())
	return next.Server(ctx).Request(ctx, req)
}

func (e events) Close(ctx context.Context, conn *networkservice.Connection) (*empty.Empty, error) {
	e.print("close", conn)
	return next.Server(ctx).Close(ctx, conn)
}

func ownNetnsURL() (string, error) {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return "", err
	}
	return fmt.Sprintf("inode://%d/%d", st.Dev, st.Ino), nil
}

// serveEndpoint serves until ctx ends (--timeout), registered at --addr as --name for --service,
// listening on --url (unix:///path), handing out addresses from --cidr.
func (o *options) serveEndpoint(ctx context.Context, cc *grpc.ClientConn) (string, error) {
	u, err := url.Parse(o.url)
	if err != nil || u.Scheme != "unix" {
		return "", usageError{"serve-endpoint needs --url unix:///path"}
	}
	_, prefix, err := net.ParseCIDR(o.cidr)
	if err != nil {
		return "", usageError{"bad --cidr: " + err.Error()}
	}
	netnsURL, err := ownNetnsURL()
	if err != nil {
		return "", err
	}
	// Warn: upstream's trace wrapper then logs through logrus without its tracing setup (Debug
	// would need it), and warnings, the ones this command is for, still show.
	logrus.SetOutput(os.Stderr)
	logrus.SetLevel(logrus.WarnLevel)
	log.SetGlobalLogger(logruslogger.New(ctx))
	gen := func(credentials.AuthInfo) (string, time.Time, error) {
		return "upstream-endpoint-token", time.Now().Add(10 * time.Minute), nil
	}
	ep := endpoint.NewServer(ctx, gen,
		endpoint.WithName(o.name),
		endpoint.WithAdditionalFunctionality(
			events{},
			&kernelMechanism{netnsURL: netnsURL},
			point2pointipam.NewServer(prefix),
		),
	)
	_ = os.Remove(u.Path)
	errCh := endpoint.Serve(ctx, u, ep)
	nse := &registry.NetworkServiceEndpoint{
		Name:                o.name,
		NetworkServiceNames: strings.Split(o.service, ","),
		Url:                 o.url,
		ExpirationTime:      timestamppb.New(time.Now().Add(10 * time.Minute)),
	}
	if _, err := registry.NewNetworkServiceEndpointRegistryClient(cc).Register(ctx, nse); err != nil {
		return "", err
	}
	fmt.Println(`{"registered":true}`)
	select {
	case err := <-errCh:
		return "", err
	case <-ctx.Done():
		return `{"done":true}`, nil
	}
}
