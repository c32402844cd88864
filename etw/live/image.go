package live

import (
	"encoding/binary"
	"io"
	"strings"
	"sync/atomic"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/internal/pe"
)

// Merged traces carry a KernelTraceControl DbgID_RSDS event next to every
// Image Load/DCStart event (xperf -d injects them). A live session has no
// merge step, so the session reads each image's debug directory when the
// image first appears and synthesizes the same event.

// Event identity of the synthesized records.
const (
	dbgIDOpcode  = 36 // DBGID_LOG_TYPE_RSDS
	dbgIDVersion = 2
	hookImageDC  = etw.HookID(etw.GroupImage)<<8 | 3 // Image DCStart
)

// Limits of the image identity machinery.
const (
	maxIdentityCache = 8192 // cached (path, stamp) → identity results
)

// imageInfo is what the session keeps of an Image Load/DCStart event to
// synthesize its DbgID record.
type imageInfo struct {
	base      uint64
	pid       uint32
	stamp     uint32 // PE TimeDateStamp
	size      uint64
	path      string // kernel path
	ptr       int
	timestamp int64
}

// parseImage takes the fields of an Image Load (hook 0x030A) or DCStart
// (0x1403) event needed to find the image file. It reports false for other
// events and for payloads etw.DecodeImage rejects.
func parseImage(e *etw.Event, info *imageInfo) bool {
	if e.Hook != etw.HookImageLoad && e.Hook != hookImageDC {
		return false
	}
	im, err := etw.DecodeImage(e)
	if err != nil || im.FileName == "" {
		return false
	}
	*info = imageInfo{
		base:      im.ImageBase,
		size:      im.ImageSize,
		pid:       uint32(im.ProcessID),
		stamp:     im.TimeDateStamp,
		path:      im.FileName,
		ptr:       e.PointerSize(),
		timestamp: e.Timestamp,
	}
	return true
}

// pathResolver turns the kernel paths of image events
// (\Device\HarddiskVolume3\Windows\System32\ntdll.dll,
// \SystemRoot\system32\ntoskrnl.exe, \??\C:\...) into paths the file API
// opens.
type pathResolver struct {
	devices    []deviceMapping // from QueryDosDevice, longest first is not needed: matched on a separator
	systemRoot string          // %SystemRoot%, e.g. C:\Windows
}

// deviceMapping maps an NT device name to a DOS drive ("C:").
type deviceMapping struct {
	device string // \Device\HarddiskVolume3
	drive  string // C:
}

// resolve returns the openable path for a kernel path, or false.
func (r *pathResolver) resolve(p string) (string, bool) {
	switch {
	case hasPrefixFold(p, `\SystemRoot\`):
		if r.systemRoot == "" {
			return "", false
		}
		return strings.TrimRight(r.systemRoot, `\`) + p[len(`\SystemRoot`):], true
	case strings.HasPrefix(p, `\??\`):
		return p[4:], true
	case strings.HasPrefix(p, `\\?\`):
		return p[4:], true
	case len(p) >= 3 && p[1] == ':' && p[2] == '\\':
		return p, true
	}
	for _, m := range r.devices {
		if len(p) > len(m.device) && p[len(m.device)] == '\\' && hasPrefixFold(p, m.device) {
			return m.drive + p[len(m.device):], true
		}
	}
	return "", false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// identityKey identifies one image file version.
type identityKey struct {
	path  string
	stamp uint32
	size  uint64
}

type identityResult struct {
	id pe.CodeView
	ok bool
}

// identities finds and caches the PDB identity of image files.
type identities struct {
	resolver pathResolver
	open     func(name string) (io.ReaderAt, int64, io.Closer, error)
	cache    map[identityKey]identityResult
	lookups  atomic.Uint64 // files read
	failures atomic.Uint64 // files that could not be resolved, opened or parsed
}

func newIdentities(r pathResolver, open func(string) (io.ReaderAt, int64, io.Closer, error)) *identities {
	return &identities{resolver: r, open: open, cache: make(map[identityKey]identityResult)}
}

// lookup returns the PDB identity of the image described by info.
func (c *identities) lookup(info *imageInfo) (pe.CodeView, bool) {
	k := identityKey{path: info.path, stamp: info.stamp, size: info.size}
	if r, ok := c.cache[k]; ok {
		return r.id, r.ok
	}
	var r identityResult
	if name, ok := c.resolver.resolve(info.path); ok && c.open != nil {
		c.lookups.Add(1)
		if ra, size, cl, err := c.open(name); err == nil {
			if f, err := pe.NewFile(ra, size); err == nil {
				if cv, ok, err := f.CodeView(); err == nil && ok {
					r = identityResult{id: cv, ok: true}
				}
			}
			cl.Close()
		}
	}
	if !r.ok {
		c.failures.Add(1)
	}
	if len(c.cache) >= maxIdentityCache {
		clear(c.cache)
	}
	c.cache[k] = r
	return r.id, r.ok
}

// dbgIDRecord lays out the header and payload of a KernelTraceControl
// DbgID_RSDS event for an image: P ImageBase, u32 ProcessId, GUID, u32 Age,
// ANSI PdbFileName. The payload is appended to buf. The header's process is
// the image's; the caller sets the thread.
func dbgIDRecord(info *imageInfo, id pe.CodeView, buf []byte) (etw.RecordHeader, []byte) {
	le := binary.LittleEndian
	if info.ptr == 4 {
		buf = le.AppendUint32(buf, uint32(info.base))
	} else {
		buf = le.AppendUint64(buf, info.base)
	}
	buf = le.AppendUint32(buf, info.pid)
	g := id.GUID.Bytes()
	buf = append(buf, g[:]...)
	buf = le.AppendUint32(buf, id.Age)
	buf = append(buf, id.Path...)
	buf = append(buf, 0)
	flags := uint16(etw.EventHeaderFlagClassicHeader | etw.EventHeaderFlag64BitHeader | etw.EventHeaderFlagProcessorIndex)
	if info.ptr == 4 {
		flags = etw.EventHeaderFlagClassicHeader | etw.EventHeaderFlag32BitHeader | etw.EventHeaderFlagProcessorIndex
	}
	h := etw.RecordHeader{
		Flags:      flags,
		ProcessID:  info.pid,
		TimeStamp:  info.timestamp,
		ProviderID: etw.KernelTraceControlGUID,
		Descriptor: etw.RecordDescriptor{Opcode: dbgIDOpcode, Version: dbgIDVersion},
	}
	return h, buf
}
