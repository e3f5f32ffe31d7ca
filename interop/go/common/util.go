// Flag parsing, repo-relative files, and a stats handler that tells whether
// each received message had the compressed flag set (gRPC-Go 1.33 exposes
// that nowhere else).
package common

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"google.golang.org/grpc/stats"
)

// ParseFlags parses os.Args in the official interop style: "--name=value",
// "--name value", and for booleans also bare "--name". Go's flag package
// would read "--use_tls false" as a bare "--use_tls" followed by a
// positional "false", so such pairs are joined first.
func ParseFlags() {
	var args []string
	in := os.Args[1:]
	for i := 0; i < len(in); i++ {
		a := in[i]
		if f := flag.Lookup(trimDashes(a)); f != nil && isBool(f) && i+1 < len(in) &&
			(in[i+1] == "true" || in[i+1] == "false") {
			a += "=" + in[i+1]
			i++
		}
		args = append(args, a)
	}
	flag.CommandLine.Parse(args) // exits on a bad flag
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
}

func trimDashes(s string) string {
	for len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	return s
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// RepoFile resolves a repo-relative path such as interop/certs/ca.pem: as
// given if it exists (absolute, or relative to the working directory), else
// relative to the repo root two levels above the binary
// (target/go-interop/<bin>).
func RepoFile(path string) string {
	if _, err := os.Stat(path); err == nil || filepath.IsAbs(path) {
		return path
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "..", "..", path)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return path
}

// grpcHeaderLen is the gRPC message prefix: 1 flag byte + 4 length bytes.
const grpcHeaderLen = 5

type recorder struct {
	mu    sync.Mutex
	flags []bool
}

type recorderKey struct{}

// WithRecorder returns ctx with a fresh record of received messages; an RPC
// made with that ctx (client) fills it through CompressionStats.
func WithRecorder(ctx context.Context) context.Context {
	return context.WithValue(ctx, recorderKey{}, &recorder{})
}

// Received returns, for each message received so far on the RPC of ctx,
// whether it came compressed. Nil if ctx carries no record.
func Received(ctx context.Context) []bool {
	r, _ := ctx.Value(recorderKey{}).(*recorder)
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bool(nil), r.flags...)
}

// LastCompressed tells whether the last message received on the RPC of ctx
// came compressed.
func LastCompressed(ctx context.Context) bool {
	f := Received(ctx)
	return len(f) > 0 && f[len(f)-1]
}

// CompressionStats is a stats.Handler recording, per received message,
// whether its compressed flag was set. gRPC-Go reports the wire length
// (prefix + possibly compressed bytes) and the decompressed length; they
// differ by exactly the prefix iff the message was sent uncompressed (a gzip
// body is never the same size as the input for these payloads).
type CompressionStats struct{}

func (CompressionStats) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	if ctx.Value(recorderKey{}) == nil { // server side: a record per RPC
		return WithRecorder(ctx)
	}
	return ctx
}

func (CompressionStats) HandleRPC(ctx context.Context, s stats.RPCStats) {
	in, ok := s.(*stats.InPayload)
	r, _ := ctx.Value(recorderKey{}).(*recorder)
	if !ok || r == nil {
		return
	}
	r.mu.Lock()
	r.flags = append(r.flags, in.WireLength != in.Length+grpcHeaderLen)
	r.mu.Unlock()
}

func (CompressionStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}

func (CompressionStats) HandleConn(context.Context, stats.ConnStats) {}
