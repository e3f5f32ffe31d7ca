// Command go-interop-server serves grpc.testing.TestService on gRPC-Go
// (Debian's golang-google-grpc-dev), as a peer for Weir's interop client.
//
//	go-interop-server --port N [--use_tls=true] [--cert_file F --key_file F]
//
// It binds 127.0.0.1, prints "interop server listening on 127.0.0.1:PORT"
// once listening, and stops gracefully on SIGTERM/SIGINT.
//
// gRPC-Go 1.33 limit: a server compresses its responses only when the
// request came compressed, and then all of them; it has no per-call or
// per-message choice. So response_compressed and
// ResponseParameters.compressed are not honoured (server_compressed_unary
// and server_compressed_streaming clients see uncompressed responses).
// expect_compressed is checked, message by message.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	_ "google.golang.org/grpc/encoding/gzip" // registers gzip
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"weirinterop/common"
)

const (
	echoInitialKey  = "x-grpc-test-echo-initial"
	echoTrailingKey = "x-grpc-test-echo-trailing-bin"
)

func main() {
	port := flag.Int("port", 10000, "port to listen on (127.0.0.1); 0 picks one")
	useTLS := flag.Bool("use_tls", false, "serve TLS instead of h2c")
	certFile := flag.String("cert_file", "interop/certs/server1.pem", "TLS certificate (repo-relative or absolute)")
	keyFile := flag.String("key_file", "interop/certs/server1.key", "TLS key (repo-relative or absolute)")
	common.ParseFlags()
	log.SetFlags(0)
	log.SetPrefix("go-interop-server: ")

	opts := []grpc.ServerOption{grpc.StatsHandler(common.CompressionStats{})}
	if *useTLS {
		creds, err := credentials.NewServerTLSFromFile(common.RepoFile(*certFile), common.RepoFile(*keyFile))
		if err != nil {
			log.Fatalf("TLS: %v", err)
		}
		opts = append(opts, grpc.Creds(creds))
	}
	s := grpc.NewServer(opts...)
	s.RegisterService(&testService, nil)

	lis, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	// os.Stdout is unbuffered: the line is out once Printf returns.
	fmt.Printf("interop server listening on %s\n", lis.Addr())

	stopped := make(chan struct{})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		done := make(chan struct{})
		go func() { s.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second): // bounded drain
			s.Stop()
		}
		close(stopped)
	}()
	if err := s.Serve(lis); err != nil {
		log.Fatalf("serve: %v", err)
	}
	<-stopped
}

// testService routes by hand what protoc-gen-go would generate.
var testService = grpc.ServiceDesc{
	ServiceName: common.Service,
	HandlerType: (*interface{})(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "EmptyCall", Handler: emptyCall},
		{MethodName: "UnaryCall", Handler: unaryCall},
		{MethodName: "CacheableUnaryCall", Handler: unaryCall},
	},
	Streams: []grpc.StreamDesc{
		{StreamName: "StreamingOutputCall", Handler: streamingOutputCall, ServerStreams: true},
		{StreamName: "StreamingInputCall", Handler: streamingInputCall, ClientStreams: true},
		{StreamName: "FullDuplexCall", Handler: fullDuplexCall, ServerStreams: true, ClientStreams: true},
		{StreamName: "HalfDuplexCall", Handler: halfDuplexCall, ServerStreams: true, ClientStreams: true},
	},
	// UnimplementedCall is left out on purpose: gRPC-Go answers UNIMPLEMENTED.
}

// echoMetadata: the request's echo-initial value goes back as header
// metadata, its echo-trailing-bin value as trailer metadata.
func echoMetadata(ctx context.Context) (header, trailer metadata.MD) {
	in, _ := metadata.FromIncomingContext(ctx)
	header, trailer = metadata.MD{}, metadata.MD{}
	if v := in.Get(echoInitialKey); len(v) > 0 {
		header.Set(echoInitialKey, v...)
	}
	if v := in.Get(echoTrailingKey); len(v) > 0 {
		trailer.Set(echoTrailingKey, v...)
	}
	return header, trailer
}

// echoStatus: a non-zero response_status ends the call with it.
func echoStatus(s *common.EchoStatus) error {
	if s == nil || s.Code == 0 {
		return nil
	}
	return status.Error(codes.Code(s.Code), s.Message)
}

// checkCompressed enforces expect_compressed on the message just received.
func checkCompressed(ctx context.Context, expect *common.BoolValue) error {
	got := common.LastCompressed(ctx)
	if expect != nil && expect.Value != got {
		return status.Errorf(codes.InvalidArgument, "expect_compressed=%v but the message compressed=%v", expect.Value, got)
	}
	return nil
}

func emptyCall(_ interface{}, ctx context.Context, dec func(interface{}) error, _ grpc.UnaryServerInterceptor) (interface{}, error) {
	if err := dec(new(common.Empty)); err != nil {
		return nil, err
	}
	h, t := echoMetadata(ctx)
	grpc.SetHeader(ctx, h)
	grpc.SetTrailer(ctx, t)
	return new(common.Empty), nil
}

func unaryCall(_ interface{}, ctx context.Context, dec func(interface{}) error, _ grpc.UnaryServerInterceptor) (interface{}, error) {
	req := new(common.SimpleRequest)
	if err := dec(req); err != nil {
		return nil, err
	}
	h, t := echoMetadata(ctx)
	grpc.SetHeader(ctx, h)
	grpc.SetTrailer(ctx, t)
	if err := checkCompressed(ctx, req.ExpectCompressed); err != nil {
		return nil, err
	}
	if err := echoStatus(req.ResponseStatus); err != nil {
		return nil, err
	}
	return &common.SimpleResponse{Payload: common.Zeros(req.ResponseSize)}, nil
}

func setStreamMetadata(stream grpc.ServerStream) {
	h, t := echoMetadata(stream.Context())
	stream.SetHeader(h)
	stream.SetTrailer(t)
}

// sendResponses sends one response per parameter, each after its interval.
func sendResponses(stream grpc.ServerStream, params []*common.ResponseParameters) error {
	for _, p := range params {
		if p.IntervalUs > 0 {
			select {
			case <-time.After(time.Duration(p.IntervalUs) * time.Microsecond):
			case <-stream.Context().Done():
				return status.FromContextError(stream.Context().Err()).Err()
			}
		}
		if err := stream.SendMsg(&common.StreamingOutputCallResponse{Payload: common.Zeros(p.Size)}); err != nil {
			return err
		}
	}
	return nil
}

func streamingOutputCall(_ interface{}, stream grpc.ServerStream) error {
	req := new(common.StreamingOutputCallRequest)
	if err := stream.RecvMsg(req); err != nil {
		return err
	}
	setStreamMetadata(stream)
	if err := echoStatus(req.ResponseStatus); err != nil {
		return err
	}
	return sendResponses(stream, req.ResponseParameters)
}

func streamingInputCall(_ interface{}, stream grpc.ServerStream) error {
	setStreamMetadata(stream)
	var total int32
	for {
		req := new(common.StreamingInputCallRequest)
		err := stream.RecvMsg(req)
		if err == io.EOF {
			return stream.SendMsg(&common.StreamingInputCallResponse{AggregatedPayloadSize: total})
		}
		if err != nil {
			return err
		}
		if err := checkCompressed(stream.Context(), req.ExpectCompressed); err != nil {
			return err
		}
		if req.Payload != nil {
			total += int32(len(req.Payload.Body))
		}
	}
}

// fullDuplexCall answers each request as it arrives.
func fullDuplexCall(_ interface{}, stream grpc.ServerStream) error {
	setStreamMetadata(stream)
	for {
		req := new(common.StreamingOutputCallRequest)
		err := stream.RecvMsg(req)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := echoStatus(req.ResponseStatus); err != nil {
			return err
		}
		if err := sendResponses(stream, req.ResponseParameters); err != nil {
			return err
		}
	}
}

// halfDuplexCall reads every request first, then answers them in order.
func halfDuplexCall(_ interface{}, stream grpc.ServerStream) error {
	setStreamMetadata(stream)
	var params []*common.ResponseParameters
	for {
		req := new(common.StreamingOutputCallRequest)
		err := stream.RecvMsg(req)
		if err == io.EOF {
			return sendResponses(stream, params)
		}
		if err != nil {
			return err
		}
		if err := echoStatus(req.ResponseStatus); err != nil {
			return err
		}
		params = append(params, req.ResponseParameters...)
	}
}
