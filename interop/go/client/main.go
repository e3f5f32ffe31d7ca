// Command go-interop-client runs the standard interop cases
// (grpc/grpc doc/interop-test-descriptions.md) on gRPC-Go (Debian's
// golang-google-grpc-dev) against a grpc.testing.TestService server.
//
//	go-interop-client --server_host H --server_port N --test_case NAME[,NAME...]|all
//	                  [--use_tls=true --server_host_override H --ca_file F]
//
// Every case runs on one shared channel with a 30 s deadline and prints
// "PASS <case>" or "FAIL <case>: <reason>"; a summary line
// "N passed, M failed" follows, and the exit status is 1 if any failed.
//
// Left out of "all": client_compressed_streaming, which needs one message
// compressed and the next not on the same stream, and gRPC-Go 1.33 only
// compresses a whole call or nothing. Extra case, not in "all":
// server_streaming_4mib (four 1 MiB responses).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	_ "google.golang.org/grpc/encoding/gzip" // registers gzip
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"weirinterop/common"
)

const caseTimeout = 30 * time.Second

type caseFunc func(ctx context.Context, cc *grpc.ClientConn) error

// allCases is what "all" runs, in the official order.
var allCases = []string{
	"empty_unary", "large_unary", "client_streaming", "server_streaming",
	"ping_pong", "empty_stream", "timeout_on_sleeping_server",
	"cancel_after_begin", "cancel_after_first_response",
	"status_code_and_message", "special_status_message",
	"unimplemented_method", "unimplemented_service", "custom_metadata",
	"client_compressed_unary", "server_compressed_unary", "server_compressed_streaming",
}

var cases = map[string]caseFunc{
	"empty_unary":                 emptyUnary,
	"large_unary":                 largeUnary,
	"client_streaming":            clientStreaming,
	"server_streaming":            serverStreaming,
	"ping_pong":                   pingPong,
	"empty_stream":                emptyStream,
	"timeout_on_sleeping_server":  timeoutOnSleepingServer,
	"cancel_after_begin":          cancelAfterBegin,
	"cancel_after_first_response": cancelAfterFirstResponse,
	"status_code_and_message":     statusCodeAndMessage,
	"special_status_message":      specialStatusMessage,
	"unimplemented_method":        unimplemented(common.UnimplementedCall),
	"unimplemented_service":       unimplemented(common.UnimplementedSvc),
	"custom_metadata":             customMetadata,
	"client_compressed_unary":     clientCompressedUnary,
	"server_compressed_unary":     serverCompressedUnary,
	"server_compressed_streaming": serverCompressedStreaming,
	"server_streaming_4mib":       serverStreaming4MiB,
}

func main() {
	host := flag.String("server_host", "127.0.0.1", "server host")
	port := flag.Int("server_port", 10000, "server port")
	testCase := flag.String("test_case", "large_unary", "comma-separated case names, or all")
	useTLS := flag.Bool("use_tls", false, "use TLS instead of h2c")
	override := flag.String("server_host_override", "", "TLS server name (and :authority)")
	caFile := flag.String("ca_file", "interop/certs/ca.pem", "CA certificate for TLS (repo-relative or absolute)")
	common.ParseFlags()

	var names []string
	for _, n := range strings.Split(*testCase, ",") {
		if n = strings.TrimSpace(n); n == "all" {
			names = append(names, allCases...)
		} else if n != "" {
			names = append(names, n)
		}
	}

	opts := []grpc.DialOption{grpc.WithStatsHandler(common.CompressionStats{})}
	if *useTLS {
		creds, err := credentials.NewClientTLSFromFile(common.RepoFile(*caFile), *override)
		if err != nil {
			fmt.Fprintf(os.Stderr, "TLS: %v\n", err)
			os.Exit(1)
		}
		opts = append(opts, grpc.WithTransportCredentials(creds))
	} else {
		opts = append(opts, grpc.WithInsecure())
	}
	// Not blocking: a missing server shows up as failing cases.
	cc, err := grpc.Dial(fmt.Sprintf("%s:%d", *host, *port), opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dial: %v\n", err)
		os.Exit(1)
	}
	defer cc.Close()

	passed, failed := 0, 0
	for _, name := range names {
		if err := runCase(cc, name); err != nil {
			failed++
			fmt.Printf("FAIL %s: %v\n", name, err)
		} else {
			passed++
			fmt.Printf("PASS %s\n", name)
		}
	}
	fmt.Printf("%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		cc.Close()
		os.Exit(1)
	}
}

// runCase runs one case under a 30 s deadline, and gives up on it shortly
// after even if the case itself ignores the deadline.
func runCase(cc *grpc.ClientConn, name string) error {
	fn := cases[name]
	if fn == nil {
		return fmt.Errorf("unknown test case")
	}
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("panic: %v", r)
			}
		}()
		done <- fn(ctx, cc)
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(caseTimeout + 5*time.Second):
		return fmt.Errorf("no result %v after the deadline", 5*time.Second)
	}
}

// --- helpers ------------------------------------------------------------------

func newStream(ctx context.Context, cc *grpc.ClientConn, method string, clientStreams, serverStreams bool) (grpc.ClientStream, error) {
	desc := &grpc.StreamDesc{ClientStreams: clientStreams, ServerStreams: serverStreams}
	return cc.NewStream(ctx, desc, method)
}

func largeRequest() *common.SimpleRequest {
	return &common.SimpleRequest{ResponseSize: 314159, Payload: common.Zeros(271828)}
}

func params(sizes ...int32) []*common.ResponseParameters {
	var ps []*common.ResponseParameters
	for _, s := range sizes {
		ps = append(ps, &common.ResponseParameters{Size: s})
	}
	return ps
}

// checkZeros: the payload is exactly n zero bytes.
func checkZeros(p *common.Payload, n int) error {
	var body []byte
	if p != nil {
		body = p.Body
	}
	if len(body) != n {
		return fmt.Errorf("payload of %d bytes, want %d", len(body), n)
	}
	for _, b := range body {
		if b != 0 {
			return fmt.Errorf("payload of %d bytes is not all zeros", n)
		}
	}
	return nil
}

// expectStatus: err is a gRPC status with this code (and message, unless "").
func expectStatus(err error, code codes.Code, msg string) error {
	st, ok := status.FromError(err)
	switch {
	case err == nil:
		return fmt.Errorf("got OK, want %v", code)
	case !ok:
		return fmt.Errorf("got %v, want status %v", err, code)
	case st.Code() != code:
		return fmt.Errorf("got %v: %q, want %v", st.Code(), st.Message(), code)
	case msg != "" && st.Message() != msg:
		return fmt.Errorf("got message %q, want %q", st.Message(), msg)
	}
	return nil
}

// send ignores io.EOF: the server already ended the call, and the next
// RecvMsg tells how.
func send(s grpc.ClientStream, m interface{}) error {
	if err := s.SendMsg(m); err != nil && err != io.EOF {
		return fmt.Errorf("send: %v", err)
	}
	return nil
}

// recvAll reads StreamingOutputCallResponses until the call ends OK.
func recvAll(s grpc.ClientStream) ([]*common.StreamingOutputCallResponse, error) {
	var out []*common.StreamingOutputCallResponse
	for {
		r := new(common.StreamingOutputCallResponse)
		err := s.RecvMsg(r)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("after %d responses: %v", len(out), err)
		}
		out = append(out, r)
	}
}

// closeAndCheck ends the client's side, then reads the responses until the
// call ends OK: they must be zeros of exactly these sizes, in order (none
// when no size is given).
func closeAndCheck(s grpc.ClientStream, sizes ...int) error {
	if err := s.CloseSend(); err != nil {
		return err
	}
	rs, err := recvAll(s)
	if err != nil {
		return err
	}
	return checkSizes(rs, sizes...)
}

// checkSizes: the responses are zeros of exactly these sizes, in order.
func checkSizes(rs []*common.StreamingOutputCallResponse, sizes ...int) error {
	if len(rs) != len(sizes) {
		return fmt.Errorf("%d responses, want %d", len(rs), len(sizes))
	}
	for i, r := range rs {
		if err := checkZeros(r.Payload, sizes[i]); err != nil {
			return fmt.Errorf("response %d: %v", i, err)
		}
	}
	return nil
}

// --- cases --------------------------------------------------------------------

func emptyUnary(ctx context.Context, cc *grpc.ClientConn) error {
	return cc.Invoke(ctx, common.EmptyCall, new(common.Empty), new(common.Empty))
}

func largeUnary(ctx context.Context, cc *grpc.ClientConn) error {
	resp := new(common.SimpleResponse)
	if err := cc.Invoke(ctx, common.UnaryCall, largeRequest(), resp); err != nil {
		return err
	}
	return checkZeros(resp.Payload, 314159)
}

func clientStreaming(ctx context.Context, cc *grpc.ClientConn) error {
	s, err := newStream(ctx, cc, common.StreamingInputCall, true, false)
	if err != nil {
		return err
	}
	for _, n := range []int32{27182, 8, 1828, 45904} {
		if err := send(s, &common.StreamingInputCallRequest{Payload: common.Zeros(n)}); err != nil {
			return err
		}
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	resp := new(common.StreamingInputCallResponse)
	if err := s.RecvMsg(resp); err != nil {
		return err
	}
	if resp.AggregatedPayloadSize != 74922 {
		return fmt.Errorf("aggregated_payload_size %d, want 74922", resp.AggregatedPayloadSize)
	}
	return nil
}

func serverStreaming(ctx context.Context, cc *grpc.ClientConn) error {
	return streamingOutput(ctx, cc, 31415, 9, 2653, 58979)
}

func serverStreaming4MiB(ctx context.Context, cc *grpc.ClientConn) error {
	return streamingOutput(ctx, cc, 1<<20, 1<<20, 1<<20, 1<<20)
}

// streamingOutput: one StreamingOutputCall asking for these response sizes.
func streamingOutput(ctx context.Context, cc *grpc.ClientConn, sizes ...int) error {
	s, err := newStream(ctx, cc, common.StreamingOutputCall, false, true)
	if err != nil {
		return err
	}
	req := &common.StreamingOutputCallRequest{}
	for _, n := range sizes {
		req.ResponseParameters = append(req.ResponseParameters, &common.ResponseParameters{Size: int32(n)})
	}
	if err := send(s, req); err != nil {
		return err
	}
	return closeAndCheck(s, sizes...)
}

func pingPong(ctx context.Context, cc *grpc.ClientConn) error {
	s, err := newStream(ctx, cc, common.FullDuplexCall, true, true)
	if err != nil {
		return err
	}
	for _, p := range [][2]int32{{31415, 27182}, {9, 8}, {2653, 1828}, {58979, 45904}} {
		req := &common.StreamingOutputCallRequest{ResponseParameters: params(p[0]), Payload: common.Zeros(p[1])}
		if err := send(s, req); err != nil {
			return err
		}
		resp := new(common.StreamingOutputCallResponse)
		if err := s.RecvMsg(resp); err != nil {
			return fmt.Errorf("recv for size %d: %v", p[0], err)
		}
		if err := checkZeros(resp.Payload, int(p[0])); err != nil {
			return err
		}
	}
	return closeAndCheck(s)
}

func emptyStream(ctx context.Context, cc *grpc.ClientConn) error {
	s, err := newStream(ctx, cc, common.FullDuplexCall, true, true)
	if err != nil {
		return err
	}
	return closeAndCheck(s)
}

func timeoutOnSleepingServer(ctx context.Context, cc *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	s, err := newStream(ctx, cc, common.FullDuplexCall, true, true)
	if err == nil {
		// May fail once the deadline has passed; RecvMsg tells the status.
		s.SendMsg(&common.StreamingOutputCallRequest{Payload: common.Zeros(27182)})
		err = s.RecvMsg(new(common.StreamingOutputCallResponse))
	}
	return expectStatus(err, codes.DeadlineExceeded, "")
}

func cancelAfterBegin(ctx context.Context, cc *grpc.ClientConn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := newStream(ctx, cc, common.StreamingInputCall, true, false)
	if err != nil {
		return err
	}
	cancel()
	return expectStatus(s.RecvMsg(new(common.StreamingInputCallResponse)), codes.Canceled, "")
}

func cancelAfterFirstResponse(ctx context.Context, cc *grpc.ClientConn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := newStream(ctx, cc, common.FullDuplexCall, true, true)
	if err != nil {
		return err
	}
	req := &common.StreamingOutputCallRequest{ResponseParameters: params(31415), Payload: common.Zeros(27182)}
	if err := send(s, req); err != nil {
		return err
	}
	resp := new(common.StreamingOutputCallResponse)
	if err := s.RecvMsg(resp); err != nil {
		return fmt.Errorf("first response: %v", err)
	}
	if err := checkZeros(resp.Payload, 31415); err != nil {
		return err
	}
	cancel()
	return expectStatus(s.RecvMsg(new(common.StreamingOutputCallResponse)), codes.Canceled, "")
}

// echoStatusUnary: UnaryCall asking for UNKNOWN with msg gets exactly that.
func echoStatusUnary(ctx context.Context, cc *grpc.ClientConn, msg string) error {
	req := &common.SimpleRequest{ResponseStatus: &common.EchoStatus{Code: 2, Message: msg}}
	if err := expectStatus(cc.Invoke(ctx, common.UnaryCall, req, new(common.SimpleResponse)), codes.Unknown, msg); err != nil {
		return fmt.Errorf("unary: %v", err)
	}
	return nil
}

func statusCodeAndMessage(ctx context.Context, cc *grpc.ClientConn) error {
	const msg = "test status message"
	if err := echoStatusUnary(ctx, cc, msg); err != nil {
		return err
	}
	s, err := newStream(ctx, cc, common.FullDuplexCall, true, true)
	if err != nil {
		return err
	}
	req := &common.StreamingOutputCallRequest{ResponseStatus: &common.EchoStatus{Code: 2, Message: msg}}
	if err := send(s, req); err != nil {
		return err
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	if err := expectStatus(s.RecvMsg(new(common.StreamingOutputCallResponse)), codes.Unknown, msg); err != nil {
		return fmt.Errorf("full duplex: %v", err)
	}
	return nil
}

func specialStatusMessage(ctx context.Context, cc *grpc.ClientConn) error {
	return echoStatusUnary(ctx, cc, "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n")
}

func unimplemented(method string) caseFunc {
	return func(ctx context.Context, cc *grpc.ClientConn) error {
		return expectStatus(cc.Invoke(ctx, method, new(common.Empty), new(common.Empty)), codes.Unimplemented, "")
	}
}

const (
	echoInitialKey   = "x-grpc-test-echo-initial"
	echoInitialValue = "test_initial_metadata_value"
	echoTrailingKey  = "x-grpc-test-echo-trailing-bin"
	echoTrailingVal  = "\xab\xab\xab"
)

func checkEcho(header, trailer metadata.MD) error {
	if v := header.Get(echoInitialKey); len(v) != 1 || v[0] != echoInitialValue {
		return fmt.Errorf("initial metadata %s = %q", echoInitialKey, v)
	}
	if v := trailer.Get(echoTrailingKey); len(v) != 1 || !bytes.Equal([]byte(v[0]), []byte(echoTrailingVal)) {
		return fmt.Errorf("trailing metadata %s = %q", echoTrailingKey, v)
	}
	return nil
}

func customMetadata(ctx context.Context, cc *grpc.ClientConn) error {
	ctx = metadata.AppendToOutgoingContext(ctx, echoInitialKey, echoInitialValue, echoTrailingKey, echoTrailingVal)
	var header, trailer metadata.MD
	resp := new(common.SimpleResponse)
	if err := cc.Invoke(ctx, common.UnaryCall, largeRequest(), resp, grpc.Header(&header), grpc.Trailer(&trailer)); err != nil {
		return fmt.Errorf("unary: %v", err)
	}
	if err := checkZeros(resp.Payload, 314159); err != nil {
		return fmt.Errorf("unary: %v", err)
	}
	if err := checkEcho(header, trailer); err != nil {
		return fmt.Errorf("unary: %v", err)
	}

	s, err := newStream(ctx, cc, common.FullDuplexCall, true, true)
	if err != nil {
		return err
	}
	req := &common.StreamingOutputCallRequest{ResponseParameters: params(314159), Payload: common.Zeros(271828)}
	if err := send(s, req); err != nil {
		return err
	}
	if err := closeAndCheck(s, 314159); err != nil {
		return fmt.Errorf("full duplex: %v", err)
	}
	header, err = s.Header()
	if err != nil {
		return fmt.Errorf("full duplex: header: %v", err)
	}
	if err := checkEcho(header, s.Trailer()); err != nil {
		return fmt.Errorf("full duplex: %v", err)
	}
	return nil
}

func clientCompressedUnary(ctx context.Context, cc *grpc.ClientConn) error {
	req := func(expect bool) *common.SimpleRequest {
		r := largeRequest()
		r.ExpectCompressed = &common.BoolValue{Value: expect}
		return r
	}
	// The probe: an uncompressed message claiming it is compressed.
	err := cc.Invoke(ctx, common.UnaryCall, req(true), new(common.SimpleResponse))
	if err := expectStatus(err, codes.InvalidArgument, ""); err != nil {
		return fmt.Errorf("probe: %v", err)
	}
	for _, compressed := range []bool{true, false} {
		var opts []grpc.CallOption
		if compressed {
			opts = append(opts, grpc.UseCompressor("gzip"))
		}
		resp := new(common.SimpleResponse)
		if err := cc.Invoke(ctx, common.UnaryCall, req(compressed), resp, opts...); err != nil {
			return fmt.Errorf("compressed=%v: %v", compressed, err)
		}
		if err := checkZeros(resp.Payload, 314159); err != nil {
			return fmt.Errorf("compressed=%v: %v", compressed, err)
		}
	}
	return nil
}

// acceptGzip: gRPC-Go 1.33 only advertises grpc-accept-encoding when it
// compresses itself; say we take gzip, and record each response's flag.
func acceptGzip(ctx context.Context) context.Context {
	return common.WithRecorder(metadata.AppendToOutgoingContext(ctx, "grpc-accept-encoding", "gzip"))
}

func serverCompressedUnary(ctx context.Context, cc *grpc.ClientConn) error {
	for _, want := range []bool{true, false} {
		rctx := acceptGzip(ctx)
		req := largeRequest()
		req.ResponseCompressed = &common.BoolValue{Value: want}
		resp := new(common.SimpleResponse)
		if err := cc.Invoke(rctx, common.UnaryCall, req, resp); err != nil {
			return fmt.Errorf("response_compressed=%v: %v", want, err)
		}
		if err := checkZeros(resp.Payload, 314159); err != nil {
			return fmt.Errorf("response_compressed=%v: %v", want, err)
		}
		if got := common.Received(rctx); len(got) != 1 || got[0] != want {
			return fmt.Errorf("response_compressed=%v: response compressed flags %v", want, got)
		}
	}
	return nil
}

func serverCompressedStreaming(ctx context.Context, cc *grpc.ClientConn) error {
	ctx = acceptGzip(ctx)
	s, err := newStream(ctx, cc, common.StreamingOutputCall, false, true)
	if err != nil {
		return err
	}
	req := &common.StreamingOutputCallRequest{ResponseParameters: []*common.ResponseParameters{
		{Size: 31415, Compressed: &common.BoolValue{Value: true}},
		{Size: 92653, Compressed: &common.BoolValue{Value: false}},
	}}
	if err := send(s, req); err != nil {
		return err
	}
	if err := closeAndCheck(s, 31415, 92653); err != nil {
		return err
	}
	if got := common.Received(ctx); len(got) != 2 || !got[0] || got[1] {
		return fmt.Errorf("response compressed flags %v, want [true false]", got)
	}
	return nil
}
