// The `hold` command: upstream's own Go SDK client chain (sdk chains/client, v1.18.0) holding one
// connection for a while. Like cmd-nsc it sends its token and the token's expiry only as per-call
// metadata (tools/token.NewPerRPCCredentials), never in its path segment, and refreshes on its own
// (common/refresh) from the expiries the path comes back with. It prints how often it requested,
// so a test can check the refresh rate upstream expects and that the connection stayed the same.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/golang/protobuf/ptypes/empty"
	"github.com/networkservicemesh/api/pkg/api/networkservice"
	"github.com/networkservicemesh/sdk/pkg/networkservice/chains/client"
	"github.com/networkservicemesh/sdk/pkg/networkservice/core/next"
	"github.com/networkservicemesh/sdk/pkg/tools/token"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// plainTransport lets upstream's token credentials ride a unix socket without TLS: upstream asks
// for transport security (its tokens are SPIFFE JWTs over mTLS); the wire format is the same.
type plainTransport struct{ credentials.PerRPCCredentials }

func (plainTransport) RequireTransportSecurity() bool { return false }

// recorder counts the Requests the chain sends (the first one and every refresh) and keeps the
// last connection the server returned.
type recorder struct {
	mu       sync.Mutex
	times    []time.Time
	failures int
	last     *networkservice.Connection
}

func (r *recorder) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	r.mu.Lock()
	r.times = append(r.times, time.Now())
	r.mu.Unlock()
	conn, err := next.Client(ctx).Request(ctx, req, opts...)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.failures++
		return nil, err
	}
	r.last = conn.Clone()
	return conn, nil
}

func (r *recorder) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*empty.Empty, error) {
	return next.Client(ctx).Close(ctx, conn, opts...)
}

func (o *options) hold(ctx context.Context) (string, error) {
	lifetime, err := time.ParseDuration(o.lifetime)
	if err != nil {
		return "", usageError{"bad --lifetime: " + err.Error()}
	}
	duration, err := time.ParseDuration(o.duration)
	if err != nil {
		return "", usageError{"bad --duration: " + err.Error()}
	}
	u, err := url.Parse(o.addr)
	if err != nil || u.Scheme != "unix" {
		return "", usageError{"hold needs --addr unix:///path"}
	}
	serial := 0
	gen := func(credentials.AuthInfo) (string, time.Time, error) {
		serial++
		return fmt.Sprintf("upstream-peer-token-%d", serial), time.Now().Add(lifetime), nil
	}
	rec := &recorder{}
	chainCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := client.NewClient(chainCtx,
		client.WithName(o.clientName),
		client.WithClientURL(u),
		client.WithDialTimeout(5*time.Second),
		client.WithDialOptions(
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithPerRPCCredentials(plainTransport{token.NewPerRPCCredentials(gen)}),
		),
		client.WithAdditionalFunctionality(rec),
	)
	req := o.request()
	req.Connection.Path = nil // upstream's updatepath client makes the client's segment
	first, err := c.Request(ctx, req)
	if err != nil {
		return "", err
	}
	first = first.Clone()
	select {
	case <-time.After(duration):
	case <-ctx.Done():
		return "", ctx.Err()
	}
	rec.mu.Lock()
	last := rec.last
	intervals := make([]int64, 0, len(rec.times))
	for i := 1; i < len(rec.times); i++ {
		intervals = append(intervals, rec.times[i].Sub(rec.times[i-1]).Milliseconds())
	}
	requests, failures := len(rec.times), rec.failures
	rec.mu.Unlock()
	fmt.Println(`{"closing":true}`) // the test stops watching the interface here
	if _, err := c.Close(ctx, last.Clone()); err != nil {
		return "", err
	}
	out, err := json.Marshal(map[string]any{
		"requests":    requests,
		"failures":    failures,
		"intervalsMs": intervals,
		"first":       json.RawMessage(marshal(first)),
		"last":        json.RawMessage(marshal(last)),
	})
	return string(out), err
}
