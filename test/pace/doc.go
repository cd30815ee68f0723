// Package pace sends a byte stream at a rate that may change while it
// runs, or as fast as the receiver takes it: the paced and bulk phases of
// the lab's steering scenarios (cmd/atsss-lab) and tests (test). It owns
// no connection and imports nothing of atsss.
package pace
