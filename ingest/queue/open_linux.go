package queue

import (
	"errors"
	"os"
	"syscall"
)

// openRead opens path read-only without updating its access time where the
// kernel allows it (O_NOATIME needs the file's owner or CAP_FOWNER), so
// reading the queue changes nothing in it, not even atime.
func openRead(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOATIME, 0)
	if errors.Is(err, syscall.EPERM) {
		f, err = os.Open(path)
	}
	return f, err
}
