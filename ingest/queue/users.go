package queue

import (
	"os/user"
	"strconv"
	"sync"
)

// userNames caches uid → login name lookups; a queue holds the same few
// local senders over and over.
var userNames sync.Map // int → string

// lookupUser fills q.LocalUser from q.LocalUID when the queue gave only the
// uid: the user's login name, or the uid in decimal if it has none here.
func lookupUser(q *Queued) {
	if q.LocalUID < 0 || q.LocalUser != "" {
		return
	}
	if n, ok := userNames.Load(q.LocalUID); ok {
		q.LocalUser = n.(string)
		return
	}
	name := strconv.Itoa(q.LocalUID)
	if u, err := user.LookupId(name); err == nil && u.Username != "" {
		name = u.Username
	}
	userNames.Store(q.LocalUID, name)
	q.LocalUser = name
}
