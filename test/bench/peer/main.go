// peer: the benchmark's reference point, a minimal grpc-go KEDA external
// scaler that answers the same cached values as saturation-scaler does for
// the benchmark's metrics file, with nothing behind them: every answer is a
// read of a value computed at start. The benchmark (test/bench/run.sh) runs
// it beside saturation-scaler with the same client and reports ratios, so
// that absolute times on a shared machine matter less.
//
// It is the code a Go scaler author would write with the stock toolchain:
// protoc-gen-go + protoc-gen-go-grpc (Debian's, grpc-go 1.33), the generated
// ExternalScaler service, one handler per RPC. It is built in GOPATH mode
// from Debian's golang-* packages by test/bench/peer/build.sh; nothing is
// downloaded.
//
// Usage: peer --listen 127.0.0.1:6001 [--value 3] [--active=true]
// Prints "listening on HOST:PORT" on stdout once serving.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"google.golang.org/grpc"
)

const defaultMetricName = "saturation-desired-replicas"

type scaler struct {
	UnimplementedExternalScalerServer

	mu     sync.RWMutex
	value  int64 // GetMetrics' answer (the "cached" decision)
	active bool  // IsActive's answer
}

func metricName(ref *ScaledObjectRef) string {
	if ref != nil {
		if n, ok := ref.GetScalerMetadata()["metricName"]; ok && n != "" {
			return n
		}
	}
	return defaultMetricName
}

func (s *scaler) cached() (int64, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.value, s.active
}

func (s *scaler) IsActive(ctx context.Context, ref *ScaledObjectRef) (*IsActiveResponse, error) {
	_, active := s.cached()
	return &IsActiveResponse{Result: active}, nil
}

func (s *scaler) StreamIsActive(ref *ScaledObjectRef, stream ExternalScaler_StreamIsActiveServer) error {
	_, active := s.cached()
	if err := stream.Send(&IsActiveResponse{Result: active}); err != nil {
		return err
	}
	<-stream.Context().Done()
	return nil
}

func (s *scaler) GetMetricSpec(ctx context.Context, ref *ScaledObjectRef) (*GetMetricSpecResponse, error) {
	return &GetMetricSpecResponse{MetricSpecs: []*MetricSpec{{
		MetricName: metricName(ref), TargetSize: 1, TargetSizeFloat: 1,
	}}}, nil
}

func (s *scaler) GetMetrics(ctx context.Context, req *GetMetricsRequest) (*GetMetricsResponse, error) {
	v, _ := s.cached()
	return &GetMetricsResponse{MetricValues: []*MetricValue{{
		MetricName: metricName(req.GetScaledObjectRef()), MetricValue: v, MetricValueFloat: float64(v),
	}}}, nil
}

func main() {
	listen := flag.String("listen", "127.0.0.1:6001", "listen address")
	value := flag.Int64("value", 3, "GetMetrics value")
	active := flag.Bool("active", true, "IsActive answer")
	flag.Parse()

	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(1)
	}
	// The same server limits as saturation-scaler: room for 10k streams on
	// one connection, 1 MiB requests.
	srv := grpc.NewServer(grpc.MaxConcurrentStreams(100000), grpc.MaxRecvMsgSize(1<<20))
	RegisterExternalScalerServer(srv, &scaler{value: *value, active: *active})
	fmt.Printf("listening on %s\n", lis.Addr().String())
	os.Stdout.Sync()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		srv.Stop()
	}()
	if err := srv.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(1)
	}
}
