package controller

import (
	"github.com/go-logr/logr"
)

// MaxLogVerbosity is the highest V level the operator's logger lets
// through. client-go logs whole request and response bodies at V(8) and
// above through the logger in the request's context: every OpenstackConfig
// (settings.contrabassEncryptKey, endpoints with passwords) and, through the
// API reader, Secrets. Those levels stay off whatever --zap-log-level says.
const MaxLogVerbosity = 7

// SafeLogger wraps a logger so that nothing it writes leaks credentials or
// floods: URL user info is masked and error and string values are cut to one
// bounded line in every message, value and error; levels above
// MaxLogVerbosity are disabled. main installs it for controller-runtime and
// klog alike.
func SafeLogger(l logr.Logger) logr.Logger {
	if l.GetSink() == nil {
		return l
	}
	return logr.New(&safeSink{inner: l.GetSink()})
}

type safeSink struct{ inner logr.LogSink }

func (s *safeSink) Init(info logr.RuntimeInfo) {
	info.CallDepth++ // this wrapper's frame
	s.inner.Init(info)
}

func (s *safeSink) Enabled(level int) bool {
	return level <= MaxLogVerbosity && s.inner.Enabled(level)
}

func (s *safeSink) Info(level int, msg string, kv ...any) {
	s.inner.Info(level, brief(msg), safeValues(kv)...)
}

func (s *safeSink) Error(err error, msg string, kv ...any) {
	if err != nil {
		err = boundedError(brief(err.Error()))
	}
	s.inner.Error(err, brief(msg), safeValues(kv)...)
}

func (s *safeSink) WithValues(kv ...any) logr.LogSink {
	return &safeSink{inner: s.inner.WithValues(safeValues(kv)...)}
}

func (s *safeSink) WithName(name string) logr.LogSink {
	return &safeSink{inner: s.inner.WithName(name)}
}

// WithCallDepth keeps caller annotations pointing at the caller.
func (s *safeSink) WithCallDepth(depth int) logr.LogSink {
	if cd, ok := s.inner.(logr.CallDepthLogSink); ok {
		return &safeSink{inner: cd.WithCallDepth(depth)}
	}
	return s
}

// safeValues masks and cuts the values that can carry outside text: strings,
// string lists and errors. Keys are the logger's callers' own.
func safeValues(kv []any) []any {
	var out []any
	for i, v := range kv {
		var safe any
		switch v := v.(type) {
		case string:
			safe = brief(v)
		case []string:
			list := make([]string, len(v))
			for j := range v {
				list[j] = brief(v[j])
			}
			safe = list
		case error:
			safe = boundedError(brief(v.Error()))
		default:
			continue
		}
		if out == nil {
			out = append([]any(nil), kv...) // the caller's slice is not ours to change
		}
		out[i] = safe
	}
	if out == nil {
		return kv
	}
	return out
}
