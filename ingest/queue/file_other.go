//go:build !unix

package queue

import "os"

func fileID(os.FileInfo) (dev, ino uint64) { return 0, 0 }

func fileOwner(os.FileInfo) int { return -1 }
