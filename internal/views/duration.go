package views

import (
	"fmt"
	"time"
)

// HumanDuration writes a lease's remaining time the way a person reads it:
// "45s", "20m", "1h59m", "3d4h"; a negative d is "expired 3m ago". It
// truncates, so a lease never looks longer than it is.
func HumanDuration(d time.Duration) string {
	if d < 0 {
		return "expired " + HumanDuration(-d) + " ago"
	}
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d/time.Second))
	}
	days := int(d / (24 * time.Hour))
	h := int(d % (24 * time.Hour) / time.Hour)
	m := int(d % time.Hour / time.Minute)
	switch {
	case days > 0 && h > 0:
		return fmt.Sprintf("%dd%dh", days, h)
	case days > 0:
		return fmt.Sprintf("%dd", days)
	case h > 0 && m > 0:
		return fmt.Sprintf("%dh%dm", h, m)
	case h > 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dm", m)
}
