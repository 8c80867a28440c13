//go:build !unix

package source

import "os"

// fileID returns 0, 0: this platform has no device and inode numbers, so
// files are identified by their head hash alone.
func fileID(os.FileInfo) (dev, ino uint64) { return 0, 0 }
