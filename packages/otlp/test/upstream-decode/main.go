// upstream-decode decodes OTLP protobuf messages with upstream's generated Go code
// (go.opentelemetry.io/proto/otlp) and prints them as protojson, so the tests can compare our
// encoder's output with what the reference implementation reads.
//
// stdin:  JSON array of {"kind": "<logs|metrics|trace>-<req|resp>", "data": "<base64 protobuf>"}
// stdout: JSON array of {"json": <protojson>} or {"error": "<message>"}, one per input
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

type input struct {
	Kind string `json:"kind"`
	Data []byte `json:"data"`
}

type output struct {
	JSON  json.RawMessage `json:"json,omitempty"`
	Error string          `json:"error,omitempty"`
}

func newMessage(kind string) (proto.Message, error) {
	switch kind {
	case "logs-req":
		return &collogs.ExportLogsServiceRequest{}, nil
	case "logs-resp":
		return &collogs.ExportLogsServiceResponse{}, nil
	case "metrics-req":
		return &colmetrics.ExportMetricsServiceRequest{}, nil
	case "metrics-resp":
		return &colmetrics.ExportMetricsServiceResponse{}, nil
	case "trace-req":
		return &coltrace.ExportTraceServiceRequest{}, nil
	case "trace-resp":
		return &coltrace.ExportTraceServiceResponse{}, nil
	}
	return nil, fmt.Errorf("unknown kind %q", kind)
}

func main() {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var inputs []input
	if err := json.Unmarshal(raw, &inputs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	opts := protojson.MarshalOptions{UseEnumNumbers: true}
	outputs := make([]output, 0, len(inputs))
	for _, in := range inputs {
		msg, err := newMessage(in.Kind)
		if err == nil {
			err = proto.Unmarshal(in.Data, msg)
		}
		if err != nil {
			outputs = append(outputs, output{Error: err.Error()})
			continue
		}
		js, err := opts.Marshal(msg)
		if err != nil {
			outputs = append(outputs, output{Error: err.Error()})
			continue
		}
		outputs = append(outputs, output{JSON: js})
	}
	if err := json.NewEncoder(os.Stdout).Encode(outputs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
