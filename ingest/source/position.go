package source

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// HeadSize is how many leading bytes of a file its Position's Head hash
// covers at most.
const HeadSize = 1024

// Position says how far a log file has been read, and which file that was,
// so a restart resumes exactly there even if the file has been rotated in
// the meantime. It is JSON-serialisable; the daemon stores it keyed by Path.
//
// A file is identified by its device and inode numbers and by Head, the
// SHA-256 of its first HeadLen bytes, where HeadLen = min(HeadSize, Offset):
// the hash covers only bytes already read, so it never changes while the
// file grows, and it survives renames and copies (a copytruncate copy has a
// new inode but the same head). Inode numbers alone are not enough: a file
// deleted and recreated often gets the same inode back.
type Position struct {
	// Path is the configured path the file was read under (for a rotated
	// file being finished, still the path it was rotated away from).
	Path string `json:"path"`
	// Dev and Ino are the file's device and inode numbers (0 if the
	// platform has none).
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
	// Head is the hex SHA-256 of the file's first HeadLen bytes.
	Head    string `json:"head"`
	HeadLen int    `json:"head_len"`
	// Offset is the byte offset just after the last line read.
	Offset int64 `json:"offset"`
}

// String formats p for logs.
func (p Position) String() string {
	h := p.Head
	if len(h) > 12 {
		h = h[:12]
	}
	return fmt.Sprintf("%s@%d (dev %d ino %d head %s/%d)", p.Path, p.Offset, p.Dev, p.Ino, h, p.HeadLen)
}

// headLen is the number of leading bytes a position at offset hashes.
func headLen(offset int64) int {
	if offset < HeadSize {
		return int(offset)
	}
	return HeadSize
}

// hashHead returns the hex SHA-256 of f's first n bytes, read with ReadAt
// so f's file offset is left alone. It fails if f is shorter than n.
func hashHead(f *os.File, n int) (string, error) {
	var buf [HeadSize]byte
	if n > HeadSize {
		n = HeadSize
	}
	if n > 0 {
		if _, err := f.ReadAt(buf[:n], 0); err != nil {
			if err == io.EOF {
				return "", fmt.Errorf("head of %s: file shorter than %d bytes", f.Name(), n)
			}
			return "", fmt.Errorf("head of %s: %w", f.Name(), err)
		}
	}
	sum := sha256.Sum256(buf[:n])
	return hex.EncodeToString(sum[:]), nil
}

// sameFile reports whether the open file f is the file p was taken from
// and still holds at least p.Offset bytes. With a head to compare, the head
// decides (device and inode may differ for a copy, and may match for a new
// file that reused a deleted file's inode). Without one (nothing read yet)
// device and inode decide.
func sameFile(f *os.File, p Position) (bool, error) {
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	if !fi.Mode().IsRegular() || fi.Size() < p.Offset {
		return false, nil
	}
	if p.HeadLen <= 0 || p.Head == "" {
		dev, ino := fileID(fi)
		return ino != 0 && dev == p.Dev && ino == p.Ino, nil
	}
	if int64(p.HeadLen) > fi.Size() {
		return false, nil
	}
	h, err := hashHead(f, p.HeadLen)
	if err != nil {
		return false, err
	}
	return h == p.Head, nil
}

// compressedSuffixes are rotated siblings the tailer does not read: once
// compressed, a rotated log is complete history for replay, not tailing.
var compressedSuffixes = []string{".gz", ".bz2", ".xz", ".zst", ".lz4", ".Z"}

// findRotated looks beside path for the file p was taken from after path
// has been rotated away from it: path.1, path.0, path-20240101 and any other
// sibling named path<sep>… whose identity matches p (compressed siblings are
// skipped). A sibling with p's device and inode wins over one that only
// matches by head. It returns nil, nil if there is none.
func findRotated(path string, p Position) (*os.File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("look for rotated %s: %w", path, err)
	}
	var byHead *os.File
	for _, e := range entries {
		name := e.Name()
		if name == base || !strings.HasPrefix(name, base) || len(name) == len(base) {
			continue
		}
		if c := name[len(base)]; c != '.' && c != '-' && c != '_' {
			continue
		}
		if hasAnySuffix(name, compressedSuffixes) {
			continue
		}
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			continue // vanished or unreadable: not the file we are after
		}
		ok, err := sameFile(f, p)
		if err != nil || !ok {
			f.Close()
			continue
		}
		if fi, err := f.Stat(); err == nil {
			if dev, ino := fileID(fi); ino != 0 && dev == p.Dev && ino == p.Ino {
				if byHead != nil {
					byHead.Close()
				}
				return f, nil
			}
		}
		if byHead == nil {
			byHead = f
		} else {
			f.Close()
		}
	}
	return byHead, nil
}

func hasAnySuffix(s string, suffixes []string) bool {
	for _, x := range suffixes {
		if strings.HasSuffix(s, x) {
			return true
		}
	}
	return false
}
