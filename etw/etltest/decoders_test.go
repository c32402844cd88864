package etltest_test

import (
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDecodersAgree decodes the typed builders' records with etw's typed
// decoders, in both pointer sizes and with every header form.
func TestDecodersAgree(t *testing.T) {
	for _, ptr := range []int{4, 8} {
		for _, kind := range []etltest.HeaderKind{etltest.HeaderDefault, etltest.HeaderSystem, etltest.HeaderCompact, etltest.HeaderPerfInfo} {
			m := etltest.Meta{Kind: kind, TID: 0x1c94, PID: 6420, Timestamp: 77}
			frames := []uint64{0x81000010, 0x77001000, 0x401000, 0x1234}
			sid := etltest.SID(5, 21, 1, 2, 3, 1001)
			recs := [][]byte{
				etltest.Pool(ptr, etltest.PoolEvent{Meta: m, Opcode: etltest.PoolAllocSession, PoolType: 0x221 | etltest.BigPoolMask, Tag: etltest.Tag("Gh05"), Size: 0x5000, Entry: 0x9a001000, SessionID: 1}),
				etltest.StackWalk(ptr, etltest.Stack{Kind: kind, Timestamp: 78, EventTimeStamp: 77, PID: 6420, TID: 0x1c94, Frames: frames}),
				etltest.StackKeyRef(ptr, etltest.StackKey{Kind: kind, EventTimeStamp: 77, PID: 6420, TID: 0x1c94, Key: 0x8f000040}),
				etltest.StackKeyDefinition(ptr, etltest.StackKeyDef{Kind: kind, Opcode: etltest.StackKeyDelete, Key: 0x8f000040, Frames: frames}),
				etltest.Image(ptr, etltest.ImageEvent{Meta: m, Opcode: etltest.ImageLoad, Base: 0x77c30000, Size: 0x1a3000, ProcessID: 6420, Checksum: 9, TimeDateStamp: 10,
					SignatureLevel: 12, SignatureType: 1, DefaultBase: 0x77c30000, FileName: `\Device\HarddiskVolume3\Windows\SysWOW64\ntdll.dll`}),
				etltest.Process(ptr, etltest.ProcessEvent{Meta: m, Opcode: etltest.ProcessStart, UniqueProcessKey: 0x8a1c0080, ProcessID: 6420, ParentID: 5012, SessionID: 1,
					ExitStatus: 0x103, DirectoryTableBase: 0x6f0a3000, Flags: etltest.ProcessFlagWOW64, UserSID: sid, ImageFileName: "ReadLeak.exe", CommandLine: "ReadLeak.exe x",
					PackageFullName: "pkg", ApplicationID: "app"}),
				etltest.Process(ptr, etltest.ProcessEvent{Meta: m, Opcode: etltest.ProcessDefunct, ProcessID: 6420, ImageFileName: "ReadLeak.exe", ExitTime: 1234}),
				etltest.Process(ptr, etltest.ProcessEvent{Meta: m, Opcode: etltest.ProcessDCStart, Version: 3, ProcessID: 4, SessionID: 0xFFFFFFFF, ImageFileName: "System"}),
				etltest.Thread(ptr, etltest.ThreadEvent{Meta: m, Opcode: etltest.ThreadDCStart, Version: 4, ProcessID: 6420, ThreadID: 0x1c94, StackBase: 0x8c000000, StackLimit: 0x8bffa000,
					UserStackBase: 0x300000, UserStackLimit: 0x2f8000, Affinity: 0xf, Win32StartAddr: 0xe11f30, TebBase: 0x2e1000, SubProcessTag: 3, BasePriority: 8, PagePriority: 5, IoPriority: 2, ThreadFlags: 1, ThreadName: "reader"}),
				etltest.DbgIDRSDS(ptr, etltest.RSDSEvent{TID: 1, PID: 2, Timestamp: 77, ImageBase: 0x77c30000, ProcessID: 6420, GUID: testGUID, Age: 2, PDBFileName: "wntdll.pdb"}),
				etltest.ImageID(ptr, etltest.ImageIDEvent{Timestamp: 77, ImageBase: 0x77c30000, ImageSize: 0x1a3000, TimeDateStamp: 10, OriginalFileName: "wntdll.dll"}),
				etltest.HeaderExtension(ptr, m, etltest.EventTraceEndExtension, [8]uint32{7, 0x40}, 0x46),
			}
			evs := frame(t, ptr, recs...)

			pe, err := etw.DecodePool(evs[0])
			require.NoError(t, err)
			assert.True(t, pe.IsAlloc() && pe.IsSession())
			assert.Equal(t, etw.PoolTag(etltest.Tag("Gh05")), pe.Tag)
			assert.Equal(t, etw.PoolType(0x221|etltest.BigPoolMask), pe.Type)
			assert.Equal(t, uint64(0x5000), pe.NumberOfBytes)
			assert.Equal(t, uint64(0x9a001000), pe.Entry)
			assert.Equal(t, uint32(1), pe.SessionID)

			st, err := etw.DecodeStack(evs[1])
			require.NoError(t, err)
			assert.Equal(t, int64(77), st.EventTimeStamp)
			assert.Equal(t, etw.TID(0x1c94), st.Thread)
			assert.Equal(t, etw.PID(6420), st.Process)
			assert.Equal(t, frames, st.AppendFrames(nil))
			sk, err := etw.DecodeStackKey(evs[2])
			require.NoError(t, err)
			assert.True(t, sk.Kernel)
			assert.Equal(t, uint64(0x8f000040), sk.Key)
			sd, err := etw.DecodeStackKeyDef(evs[3])
			require.NoError(t, err)
			assert.Equal(t, uint8(35), sd.Opcode)
			assert.Equal(t, frames, sd.AppendFrames(nil))

			im, err := etw.DecodeImage(evs[4])
			require.NoError(t, err)
			assert.Equal(t, etw.Image{Opcode: 10, ImageBase: 0x77c30000, ImageSize: 0x1a3000, ProcessID: 6420, ImageChecksum: 9, TimeDateStamp: 10,
				SignatureLevel: 12, SignatureType: 1, DefaultBase: 0x77c30000, FileName: `\Device\HarddiskVolume3\Windows\SysWOW64\ntdll.dll`}, im)

			pr, err := etw.DecodeProcess(evs[5])
			require.NoError(t, err)
			assert.True(t, pr.IsWOW64())
			assert.Equal(t, "S-1-5-21-1-2-3-1001", pr.UserSID)
			assert.Equal(t, "ReadLeak.exe", pr.ImageFileName)
			assert.Equal(t, "ReadLeak.exe x", pr.CommandLine)
			assert.Equal(t, "app", pr.ApplicationID)
			assert.Equal(t, uint64(0x6f0a3000), pr.DirectoryTableBase)
			assert.Equal(t, etw.PID(5012), pr.ParentID)
			assert.Equal(t, int32(0x103), pr.ExitStatus)
			df, err := etw.DecodeProcess(evs[6])
			require.NoError(t, err)
			assert.Equal(t, int64(1234), df.ExitTime)
			p3, err := etw.DecodeProcess(evs[7])
			require.NoError(t, err)
			assert.Equal(t, "System", p3.ImageFileName)
			assert.Equal(t, uint32(0xFFFFFFFF), p3.SessionID)

			th, err := etw.DecodeThread(evs[8])
			require.NoError(t, err)
			assert.Equal(t, etw.Thread{Opcode: 3, ProcessID: 6420, ThreadID: 0x1c94, StackBase: 0x8c000000, StackLimit: 0x8bffa000, UserStackBase: 0x300000,
				UserStackLimit: 0x2f8000, Affinity: 0xf, Win32StartAddr: 0xe11f30, TebBase: 0x2e1000, SubProcessTag: 3, BasePriority: 8, PagePriority: 5,
				IoPriority: 2, ThreadFlags: 1, ThreadName: "reader"}, th)

			db, err := etw.DecodeDbgID(evs[9])
			require.NoError(t, err)
			assert.Equal(t, etw.DbgID{Opcode: 36, ImageBase: 0x77c30000, ProcessID: 6420, GUID: testGUID, Age: 2, PDBFileName: "wntdll.pdb"}, db)
			ii, err := etw.DecodeImageID(evs[10])
			require.NoError(t, err)
			assert.Equal(t, etw.ImageID{ImageBase: 0x77c30000, ImageSize: 0x1a3000, TimeDateStamp: 10, OriginalFileName: "wntdll.dll"}, ii)
			he, err := etw.DecodeHeaderExtension(evs[11])
			require.NoError(t, err)
			assert.True(t, he.PoolTracing())
			assert.Equal(t, uint32(0x46), he.KernelEventVersion)
		}
	}
}
