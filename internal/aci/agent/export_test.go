package agent

import "time"

// SetMinRenewDelay lets the tests renew without waiting a second.
func SetMinRenewDelay(a *Agent, d time.Duration) { a.minRenew = d }
