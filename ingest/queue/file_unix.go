//go:build unix

package queue

import (
	"os"
	"syscall"
)

// fileID returns the device and inode numbers of fi (0, 0 if unknown).
func fileID(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino) //nolint:unconvert // Dev's type differs between platforms
	}
	return 0, 0
}

// fileOwner returns the uid owning fi, or -1.
func fileOwner(fi os.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}
