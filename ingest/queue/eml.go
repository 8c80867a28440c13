package queue

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// ReadEML reads an RFC 5322 message file. Its envelope is unknown: the
// result has the content, QueueID (the base name without ".eml"), and the
// file's identity, with the modification time standing in for the arrival
// time. maxContent caps the content kept (0: none).
func ReadEML(path string, maxContent int64) (*Queued, error) {
	f, err := openRead(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("eml: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w: not a regular file", path, ErrMalformed)
	}
	q := &Queued{
		Kind:     KindEML,
		QueueID:  strings.TrimSuffix(filepath.Base(path), ".eml"),
		Path:     path,
		MTime:    st.ModTime(),
		Arrival:  st.ModTime(),
		Size:     st.Size(),
		LocalUID: -1,
	}
	_, q.Inode = fileID(st)
	c := content{limit: max(maxContent, 0)}
	if n := min(c.limit, st.Size()); n > 0 {
		c.buf = make([]byte, n)
		got, err := io.ReadFull(f, c.buf)
		c.buf = c.buf[:got]
		c.size = int64(got)
		if err != nil && err != io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	// The file may be longer than what was read (capped) or have grown.
	c.size = max(c.size, st.Size())
	c.finish(q)
	return q, nil
}
