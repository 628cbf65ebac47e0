package crconfig

import (
	"fmt"
	"time"

	"github.com/multinic/multinic/internal/safetext"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// SPEC §8 defaults of the polling settings, used when a CR has none (or one
// that does not parse, while the ConfigError naming it is retried).
const (
	defaultPollFast   = 20 * time.Second
	defaultPollSlow   = 2 * time.Minute
	defaultPollError  = 30 * time.Second
	defaultFastWindow = 3 * time.Minute
	defaultResync     = 30 * time.Minute
	defaultFastMax    = 5
	defaultDownGrace  = 2 * time.Minute
)

// Polling holds the resolved polling settings of one CR (SPEC §8).
type Polling struct {
	// Fast is pollFastInterval, Slow pollSlowInterval, Error
	// pollErrorInterval, FastWindow pollFastWindow.
	Fast, Slow, Error, FastWindow time.Duration
	// Resync is resyncInterval; zero disables the periodic re-send.
	Resync time.Duration
	// DownPortFastRetryMax is how many fast re-sends a DOWN port gets.
	DownPortFastRetryMax int32
}

// durationBounds are the range a duration setting is clamped to at run
// time: the schema's range, applied again for values stored before the
// schema had it.
type durationBounds struct {
	min, max time.Duration
	zeroOff  bool // 0 is allowed and means "disabled"
}

var (
	pollBounds    = durationBounds{min: v1alpha1.MinPollInterval, max: v1alpha1.MaxPollInterval}
	timeoutBounds = durationBounds{min: v1alpha1.MinTimeout, max: v1alpha1.MaxTimeout}
	resyncBounds  = durationBounds{min: v1alpha1.MinResyncInterval, max: v1alpha1.MaxResyncInterval, zeroOff: true}
	graceBounds   = durationBounds{min: v1alpha1.MinDownPortGracePeriod, max: v1alpha1.MaxDownPortGracePeriod, zeroOff: true}
)

// durationSettings parses duration settings, remembering which did not
// parse so that one ConfigError can name them all.
type durationSettings struct{ bad []string }

// get returns the setting's value clamped to b, or fallback when it is
// unset or does not parse.
func (p *durationSettings) get(field string, d v1alpha1.Duration, fallback time.Duration, b durationBounds) time.Duration {
	if d == "" {
		return fallback
	}
	v, err := time.ParseDuration(string(d))
	if err != nil {
		p.bad = append(p.bad, fmt.Sprintf("spec.settings.%s %q is not a Go duration such as 30s or 1h30m", field, safetext.OneLine(safetext.RedactURLs(string(d)), 64)))
		return fallback
	}
	return b.clamp(v)
}

func (b durationBounds) clamp(v time.Duration) time.Duration {
	if v == 0 && b.zeroOff {
		return 0
	}
	return min(max(v, b.min), b.max)
}

// PollingOf resolves a CR's polling settings. The result is always usable
// (never zero, never below a second), even when bad names settings that do
// not parse: those take their defaults.
func PollingOf(set v1alpha1.Settings) (p Polling, bad []string) {
	var d durationSettings
	p = Polling{
		Fast:                 d.get("pollFastInterval", set.PollFastInterval, defaultPollFast, pollBounds),
		Slow:                 d.get("pollSlowInterval", set.PollSlowInterval, defaultPollSlow, pollBounds),
		Error:                d.get("pollErrorInterval", set.PollErrorInterval, defaultPollError, pollBounds),
		FastWindow:           d.get("pollFastWindow", set.PollFastWindow, defaultFastWindow, pollBounds),
		Resync:               d.get("resyncInterval", set.ResyncInterval, defaultResync, resyncBounds),
		DownPortFastRetryMax: defaultFastMax,
	}
	if set.DownPortFastRetryMax != nil {
		p.DownPortFastRetryMax = min(max(*set.DownPortFastRetryMax, 0), 1000)
	}
	return p, d.bad
}

// PassTimeout is the deadline of one pass of a CR (settings.passTimeout):
// multinic.DefaultPassTimeout when unset or unparsable, else clamped to the
// schema's range.
func PassTimeout(set v1alpha1.Settings) time.Duration {
	var d durationSettings
	return d.get("passTimeout", set.PassTimeout, multinic.DefaultPassTimeout, timeoutBounds)
}

// DownPortGracePeriod is a CR's settings.downPortGracePeriod: 2m when unset
// or unparsable (the ConfigError naming it comes from SpecConfig), 0 when
// "0s", else clamped to the schema's range.
func DownPortGracePeriod(set v1alpha1.Settings) time.Duration {
	var d durationSettings
	return d.get("downPortGracePeriod", set.DownPortGracePeriod, defaultDownGrace, graceBounds)
}
