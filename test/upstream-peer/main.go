// nsm-upstream-peer: a tiny NSM client built from upstream's generated code
// (github.com/networkservicemesh/api) and grpc-go; `hold` runs upstream's SDK client chain (hold.go). The e2e test peer.test.ts runs it against our
// daemons to check wire compatibility with upstream NSM.
//
// Every subcommand prints one JSON line on stdout on success (protojson, default values included). On failure it prints
// "<gRPC code name>: <message>" on stderr and exits 1 (2 for usage errors, 3 when a bad-request
// unexpectedly succeeded).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/networkservicemesh/api/pkg/api/networkservice"
	"github.com/networkservicemesh/api/pkg/api/networkservice/mechanisms/cls"
	"github.com/networkservicemesh/api/pkg/api/networkservice/mechanisms/kernel"
	"github.com/networkservicemesh/api/pkg/api/networkservice/payload"
	"github.com/networkservicemesh/api/pkg/api/registry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const usage = `usage: nsm-upstream-peer <command> --addr unix:///path|tcp://host:port [flags]
commands:
  request        --id X --service S --netns /var/run/netns/NAME --ifname nsm-1 [--nse N] [--label k=v,...] [--client-name C]
                 [--conn-json '<connection JSON printed by request>' to refresh it]
  bad-request    --kind long-ifname|unknown-service|empty-service|unknown-mechanism|no-inode-url|bad-inode-url [request flags]
  hold           [request flags] --lifetime 10s --duration 30s: upstream's SDK client chain (tokens in
                 metadata, its own refresh) holds a connection, then closes it
  close          --conn-json '<connection JSON printed by request>'
  monitor        [--segment-id X] [--service S] [--events N (default 1: the INITIAL_STATE_TRANSFER)]
  register-nse   --name N --service S[,S2] --url tcp://10.0.0.9:5000 [--labels k=v,...] [--expires-in 1m]
  find-nse       [--service S] [--name N]
  unregister-nse --name N [--service S] [--url U]
  register-ns    --name S [--payload ETHERNET]
  find-ns        [--name S]
  unregister-ns  --name S
  serve-endpoint --name N --service S --url unix:///path [--cidr P] --timeout D: upstream's SDK endpoint (serve.go)`

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	out, err := run(os.Args[1], os.Args[2:])
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "%s\n%s\n", ue.msg, usage)
		os.Exit(2)
	case errors.Is(err, errUnexpectedSuccess):
		fmt.Println(out)
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	case err != nil:
		if st, ok := status.FromError(err); ok {
			fmt.Fprintf(os.Stderr, "%s: %s\n", st.Code().String(), st.Message())
		} else {
			fmt.Fprintf(os.Stderr, "Unknown: %v\n", err)
		}
		os.Exit(1)
	}
	fmt.Println(out)
}

var errUnexpectedSuccess = errors.New("Unexpected: the bad request succeeded (the connection was closed again)")

type options struct {
	fs *flag.FlagSet

	addr, timeout string

	id, service, netns, ifname, nse, labels, clientName, kind string
	connJSON                                                  string
	segmentID                                                 string
	events                                                    int
	name, url, expiresIn, payload                             string
	lifetime, duration                                        string
	cidr                                                      string
}

func parse(cmd string, args []string) (*options, error) {
	o := &options{fs: flag.NewFlagSet(cmd, flag.ContinueOnError)}
	fs := o.fs
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.addr, "addr", "", "server address: unix:///path or tcp://host:port")
	fs.StringVar(&o.timeout, "timeout", "20s", "deadline of the call")
	fs.StringVar(&o.id, "id", "", "connection id")
	fs.StringVar(&o.service, "service", "", "network service name(s)")
	fs.StringVar(&o.netns, "netns", "", "client network namespace file (/var/run/netns/NAME)")
	fs.StringVar(&o.ifname, "ifname", "nsm-1", "client interface name")
	fs.StringVar(&o.nse, "nse", "", "network_service_endpoint_name to ask for")
	fs.StringVar(&o.labels, "labels", "", "labels k=v,k2=v2")
	fs.StringVar(&o.labels, "label", "", "alias of --labels")
	fs.StringVar(&o.clientName, "client-name", "upstream-peer", "name of the client's own path segment (\"\" = send no path)")
	fs.StringVar(&o.kind, "kind", "", "bad-request variant")
	fs.StringVar(&o.connJSON, "conn-json", "", "connection JSON (protojson) to close or refresh")
	fs.StringVar(&o.segmentID, "segment-id", "", "monitor: path segment id to select")
	fs.IntVar(&o.events, "events", 1, "monitor: how many events to print (one JSON line each) before exiting")
	fs.StringVar(&o.name, "name", "", "NSE or NS name")
	fs.StringVar(&o.url, "url", "", "NSE url")
	fs.StringVar(&o.expiresIn, "expires-in", "", "NSE expiration, from now (Go duration)")
	fs.StringVar(&o.payload, "payload", payload.Ethernet, "NS payload")
	fs.StringVar(&o.lifetime, "lifetime", "10s", "hold: token lifetime (Go duration)")
	fs.StringVar(&o.duration, "duration", "30s", "hold: how long to hold the connection")
	fs.StringVar(&o.cidr, "cidr", "172.16.77.0/24", "serve-endpoint: prefix to hand out")
	if err := fs.Parse(args); err != nil {
		return nil, usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Sprintf("unexpected arguments: %v", fs.Args())}
	}
	if o.addr == "" {
		return nil, usageError{"--addr is required"}
	}
	return o, nil
}

// dial turns our URL forms into grpc-go targets: unix:///path is native, tcp://host:port is not.
func dial(addr string) (*grpc.ClientConn, error) {
	target := addr
	if rest, ok := strings.CutPrefix(addr, "tcp://"); ok {
		target = "passthrough:///" + rest
	}
	return grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

func marshal(m proto.Message) string {
	b, err := protojson.MarshalOptions{EmitDefaultValues: true}.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// list prints {"<key>":[<message>,...]} with each message in protojson.
func list[T proto.Message](key string, items []T) string {
	raw := make([]json.RawMessage, 0, len(items))
	for _, it := range items {
		raw = append(raw, json.RawMessage(marshal(it)))
	}
	b, err := json.Marshal(map[string][]json.RawMessage{key: raw})
	if err != nil {
		panic(err)
	}
	return string(b)
}

func parseLabels(s string) map[string]string {
	if s == "" {
		return nil
	}
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func run(cmd string, args []string) (string, error) {
	o, err := parse(cmd, args)
	if err != nil {
		return "", err
	}
	timeout, err := time.ParseDuration(o.timeout)
	if err != nil {
		return "", usageError{"bad --timeout: " + err.Error()}
	}
	cc, err := dial(o.addr)
	if err != nil {
		return "", err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	switch cmd {
	case "serve-endpoint":
		return o.serveEndpoint(ctx, cc)
	case "request":
		req := o.request()
		if o.connJSON != "" {
			// A refresh, as upstream's client does it: the connection it got back, sent again.
			conn := &networkservice.Connection{}
			if err := protojson.Unmarshal([]byte(o.connJSON), conn); err != nil {
				return "", usageError{"bad --conn-json: " + err.Error()}
			}
			req.Connection = conn
		}
		conn, err := networkservice.NewNetworkServiceClient(cc).Request(ctx, req)
		if err != nil {
			return "", err
		}
		return marshal(conn), nil
	case "bad-request":
		return o.badRequest(ctx, cc)
	case "hold":
		return o.hold(ctx)
	case "close":
		if o.connJSON == "" {
			return "", usageError{"--conn-json is required"}
		}
		conn := &networkservice.Connection{}
		if err := protojson.Unmarshal([]byte(o.connJSON), conn); err != nil {
			return "", usageError{"bad --conn-json: " + err.Error()}
		}
		if _, err := networkservice.NewNetworkServiceClient(cc).Close(ctx, conn); err != nil {
			return "", err
		}
		return `{"closed":true}`, nil
	case "monitor":
		sel := &networkservice.MonitorScopeSelector{NetworkServices: splitList(o.service)}
		if o.segmentID != "" {
			sel.PathSegments = []*networkservice.PathSegment{{Id: o.segmentID}}
		}
		stream, err := networkservice.NewMonitorConnectionClient(cc).MonitorConnections(ctx, sel)
		if err != nil {
			return "", err
		}
		// Every event but the last goes out as it comes; run() prints the last one.
		for i := 1; ; i++ {
			event, err := stream.Recv()
			if err != nil {
				return "", err
			}
			if i >= o.events {
				return marshal(event), nil
			}
			fmt.Println(marshal(event))
		}
	case "register-nse":
		nse := &registry.NetworkServiceEndpoint{
			Name:                o.name,
			NetworkServiceNames: splitList(o.service),
			Url:                 o.url,
		}
		if l := parseLabels(o.labels); l != nil {
			nse.NetworkServiceLabels = map[string]*registry.NetworkServiceLabels{}
			for _, s := range nse.NetworkServiceNames {
				nse.NetworkServiceLabels[s] = &registry.NetworkServiceLabels{Labels: l}
			}
		}
		if o.expiresIn != "" {
			d, err := time.ParseDuration(o.expiresIn)
			if err != nil {
				return "", usageError{"bad --expires-in: " + err.Error()}
			}
			nse.ExpirationTime = timestamppb.New(time.Now().Add(d))
		}
		got, err := registry.NewNetworkServiceEndpointRegistryClient(cc).Register(ctx, nse)
		if err != nil {
			return "", err
		}
		return marshal(got), nil
	case "find-nse":
		q := &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{
			Name:                o.name,
			NetworkServiceNames: splitList(o.service),
		}}
		stream, err := registry.NewNetworkServiceEndpointRegistryClient(cc).Find(ctx, q)
		if err != nil {
			return "", err
		}
		var got []*registry.NetworkServiceEndpointResponse
		for {
			r, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return "", err
			}
			got = append(got, r)
		}
		return list("results", got), nil
	case "unregister-nse":
		nse := &registry.NetworkServiceEndpoint{Name: o.name, NetworkServiceNames: splitList(o.service), Url: o.url}
		if _, err := registry.NewNetworkServiceEndpointRegistryClient(cc).Unregister(ctx, nse); err != nil {
			return "", err
		}
		return `{"unregistered":true}`, nil
	case "register-ns":
		got, err := registry.NewNetworkServiceRegistryClient(cc).Register(ctx, &registry.NetworkService{
			Name:    o.name,
			Payload: o.payload,
		})
		if err != nil {
			return "", err
		}
		return marshal(got), nil
	case "find-ns":
		q := &registry.NetworkServiceQuery{NetworkService: &registry.NetworkService{Name: o.name}}
		stream, err := registry.NewNetworkServiceRegistryClient(cc).Find(ctx, q)
		if err != nil {
			return "", err
		}
		var got []*registry.NetworkServiceResponse
		for {
			r, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return "", err
			}
			got = append(got, r)
		}
		return list("results", got), nil
	case "unregister-ns":
		if _, err := registry.NewNetworkServiceRegistryClient(cc).Unregister(ctx, &registry.NetworkService{Name: o.name}); err != nil {
			return "", err
		}
		return `{"unregistered":true}`, nil
	default:
		return "", usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
}

// request builds what an upstream NSM client sends: its own path segment (as upstream's
// updatepath client does) and a KERNEL mechanism preference with upstream's parameter keys.
func (o *options) request() *networkservice.NetworkServiceRequest {
	conn := &networkservice.Connection{
		Id:                         o.id,
		NetworkService:             o.service,
		NetworkServiceEndpointName: o.nse,
		Labels:                     parseLabels(o.labels),
	}
	if o.clientName != "" {
		conn.Path = &networkservice.Path{
			Index:        0,
			PathSegments: []*networkservice.PathSegment{{Name: o.clientName, Id: o.id}},
		}
	}
	params := map[string]string{kernel.InterfaceNameKey: o.ifname}
	if o.netns != "" {
		params[kernel.NetNSURL] = "file://" + o.netns
	}
	return &networkservice.NetworkServiceRequest{
		Connection: conn,
		MechanismPreferences: []*networkservice.Mechanism{
			{Cls: cls.LOCAL, Type: kernel.MECHANISM, Parameters: params},
		},
	}
}

func (o *options) badRequest(ctx context.Context, cc *grpc.ClientConn) (string, error) {
	req := o.request()
	mech := req.GetMechanismPreferences()[0]
	switch o.kind {
	case "long-ifname":
		mech.GetParameters()[kernel.InterfaceNameKey] = "a-very-long-interface"
	case "unknown-service":
		req.GetConnection().NetworkService = "no-such-service"
	case "empty-service":
		req.GetConnection().NetworkService = ""
	case "unknown-mechanism":
		mech.Type = "CARRIER_PIGEON"
	case "no-inode-url":
		delete(mech.GetParameters(), kernel.NetNSURL)
	case "bad-inode-url":
		mech.GetParameters()[kernel.NetNSURL] = "file:///etc/passwd"
	default:
		return "", usageError{fmt.Sprintf("unknown --kind %q", o.kind)}
	}
	client := networkservice.NewNetworkServiceClient(cc)
	conn, err := client.Request(ctx, req)
	if err != nil {
		return "", err
	}
	_, _ = client.Close(ctx, conn)
	return marshal(conn), errUnexpectedSuccess
}
