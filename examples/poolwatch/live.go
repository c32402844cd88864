package main

// The live-session side of poolwatch: the session name, the recovery of
// sessions left by crashed runs and the tag checks. The session itself
// handles Ctrl-C: the first one drains it (the final table includes the
// last events), the second aborts it.

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/etwkit/etwkit/etw/live"
)

// liveFlags are the flags of the live session.
type liveFlags struct {
	session     string
	stopOrphans bool
}

func (l *liveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.session, "session", "", "session `NAME` (default: unique per run, "+live.NamePrefix+"PID-RANDOM)")
	fs.StringVar(&l.session, "name", "", "same as -session (kept for compatibility)")
	fs.BoolVar(&l.stopOrphans, "stop-orphans", false, "stop the sessions left running by poolwatch runs that died, then exit")
}

// check validates the live flags against the rest of the configuration;
// the error is a usage error.
func (l *liveFlags) check(cfg config) error {
	if cfg.tag == "" {
		return nil
	}
	if err := live.CheckPoolTags([]string{cfg.tag}); err != nil {
		return fmt.Errorf("-tag: %w", err)
	}
	if cfg.replay != "" && live.HasWildcard(cfg.tag) {
		return fmt.Errorf("-tag %q: wildcards select tags in the live session only; -replay takes one exact tag", cfg.tag)
	}
	return nil
}

// stopOrphanSessions lists and stops the sessions of dead etwkit runs.
func stopOrphanSessions(stdout, stderr io.Writer) int {
	stopped, err := live.StopOrphans()
	for _, n := range stopped {
		fmt.Fprintf(stdout, "stopped %s\n", n)
	}
	if errors.Is(err, live.ErrNotSupported) {
		fmt.Fprintf(stderr, "poolwatch: -stop-orphans: %v\n", err)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "poolwatch: %v\n", err)
		return 1
	}
	if len(stopped) == 0 {
		fmt.Fprintln(stdout, "no orphaned sessions")
	}
	return 0
}

// startLive starts the live session of cfg and reports its warnings.
func startLive(cfg config, stderr io.Writer) (*live.Session, error) {
	opts := live.Options{Name: cfg.live.session, StackWalk: true, Rundown: true}
	if cfg.tag != "" {
		opts.PoolTags = []string{cfg.tag}
	}
	s, err := live.Start(opts)
	if err != nil {
		return nil, err
	}
	for _, w := range s.Warnings() {
		fmt.Fprintf(stderr, "poolwatch: warning: %s\n", w)
	}
	return s, nil
}

// ledgerTag is the tag the ledger keeps: a wildcard tag was applied by the
// session already, so the ledger keeps every tag it receives.
func ledgerTag(cfg config) string {
	if live.HasWildcard(cfg.tag) {
		return ""
	}
	return cfg.tag
}

// warnPartial says so when the session was aborted (a second Ctrl-C, or
// a drain nobody read): the kernel's last buffers were not read.
func warnPartial(st live.Stats, stderr io.Writer) {
	if st.Aborted || st.DroppedOnClose > 0 {
		fmt.Fprintf(stderr, "poolwatch: warning: the session was aborted before it drained (%d records dropped, and what the kernel still held); the final table is partial\n", st.DroppedOnClose)
	}
}
