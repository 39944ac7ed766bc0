// Damaged files: every truncation is "truncated", every flipped byte is caught, with the file, the
// record and the byte offset in the message; nothing damaged ever reads as valid or crashes.
#include <gtest/gtest.h>

#include "snapshot_test_util.hpp"
#include "stasis/snapshot/reader.hpp"
#include "stasis/snapshot/writer.hpp"

namespace stasis::snapshot {
namespace {

class Damage : public ::testing::Test {
protected:
    void SetUp() override
    {
        // Small model queues keep the file small for the byte-by-byte sweeps.
        snapshot_data s = test::sample(6);
        for (link_data &l : s.links)
            for (pipe_data &p : l.pipes)
                p.pipe.state.queue.resize(std::min<size_t>(p.pipe.state.queue.size(), 3));
        ASSERT_TRUE(save_all(_good, s));
        _bytes = test::read_bytes(_good);
        _records = test::records_of(_bytes);
        ASSERT_GT(_records.size(), 8u);
        ASSERT_EQ(_records.back().end(), _bytes.size());
    }

    // Opens a damaged copy; returns its error (failing the test if it opened).
    error open_damaged(const std::vector<char> &bytes)
    {
        test::write_bytes(_bad, bytes);
        auto r = snapshot_reader::open(_bad);
        if (r) {
            ADD_FAILURE() << "a damaged file of " << bytes.size() << " bytes opened as valid";
            return {errc::io, ""};
        }
        EXPECT_TRUE(r.error().message.starts_with(_bad + ": ")) << r.error().message;
        return r.error();
    }

    const test::record_at &first(format::record_type t) const
    {
        for (const auto &r : _records)
            if (r.type == uint32_t(t))
                return r;
        throw std::logic_error("no such record");
    }
    size_t index_of(const test::record_at &rec) const { return size_t(&rec - _records.data()); }

    test::temp_dir _dir;
    std::string _good = _dir.file("good.stasis"), _bad = _dir.file("bad.stasis");
    std::vector<char> _bytes;
    std::vector<test::record_at> _records;
};

TEST_F(Damage, TruncatedAtChosenOffsets)
{
    const auto &pk = first(format::record_type::packets);
    const auto &trailer = _records.back();
    struct cut {
        uint64_t at;
        std::string says;
    };
    const std::string pk_where = "record " + std::to_string(index_of(pk)) + " (packets) at offset " +
                                 std::to_string(pk.offset) + ": ";
    const cut cuts[] = {
        {0, "empty file (truncated)"},
        {5, "ends inside the 16-byte preamble (truncated)"},
        {16, "ends at offset 16 after record 0 without a trailer (truncated)"},
        {20, "record 0 at offset 16: the file ends 4 bytes into the 16-byte record head (truncated)"},
        {40, "record 0 (header) at offset 16: its"},
        {pk.offset, "without a trailer (truncated)"},
        {pk.payload_offset() + pk.length / 2, pk_where + "its " + std::to_string(pk.length) +
                                                  " bytes run past the end of the file at " +
                                                  std::to_string(pk.payload_offset() + pk.length / 2) +
                                                  " (truncated)"},
        {pk.end() - 1, pk_where},
        {trailer.offset, "after record " + std::to_string(_records.size() - 1) + " without a trailer"},
        {trailer.offset + 30, "(trailer) at offset " + std::to_string(trailer.offset)},
        {_bytes.size() - 1, "(trailer)"},
    };
    for (const cut &c : cuts) {
        const error e = open_damaged({_bytes.begin(), _bytes.begin() + std::ptrdiff_t(c.at)});
        EXPECT_EQ(e.code, errc::truncated) << c.at << ": " << e.message;
        EXPECT_NE(e.message.find(c.says), std::string::npos) << c.at << ": " << e.message;
        EXPECT_TRUE(e.message.ends_with("(truncated)")) << e.message;
    }
}

TEST_F(Damage, EveryTruncationIsTruncated)
{
    for (size_t n = 0; n < _bytes.size(); n += (n < 200 ? 1 : 5)) {
        const error e = open_damaged({_bytes.begin(), _bytes.begin() + std::ptrdiff_t(n)});
        ASSERT_EQ(e.code, errc::truncated) << n << ": " << e.message;
    }
}

TEST_F(Damage, FlippedByteInEachRecordKind)
{
    using format::record_type;
    for (record_type t : {record_type::header, record_type::link, record_type::pipe,
                          record_type::packets, record_type::trailer}) {
        const auto &rec = first(t);
        const std::string where = _bad + ": record " + std::to_string(index_of(rec)) + " (" +
                                  std::string(format::type_name(uint32_t(t))) + ") at offset " +
                                  std::to_string(rec.offset) + ": ";
        // In the payload, in its checksum, and in the record head.
        const std::pair<uint64_t, std::string> flips[] = {
            {rec.payload_offset() + rec.length / 2, where + "checksum mismatch (corrupted)"},
            {rec.end() - 2, where + "checksum mismatch (corrupted)"},
            {rec.offset + 5, "at offset " + std::to_string(rec.offset) +
                                 ": record head checksum mismatch (corrupted)"},
        };
        for (const auto &[at, says] : flips) {
            std::vector<char> bad = _bytes;
            bad[at] ^= 0x20;
            const error e = open_damaged(bad);
            EXPECT_EQ(e.code, errc::corrupted) << e.message;
            EXPECT_NE(e.message.find(says), std::string::npos) << "byte " << at << ": " << e.message;
        }
    }
    // A frame's bytes, not only the per-packet heads.
    const auto &pk = first(record_type::packets);
    std::vector<char> bad = _bytes;
    bad[pk.end() - 10] ^= 1;
    EXPECT_EQ(open_damaged(bad).code, errc::corrupted);
}

TEST_F(Damage, EveryFlippedByteIsCaught)
{
    for (size_t i = 0; i < _bytes.size(); i += (i < 400 ? 1 : 5)) {
        std::vector<char> bad = _bytes;
        bad[i] ^= 0x01;
        const error e = open_damaged(bad);
        ASSERT_TRUE(e.code == errc::corrupted || e.code == errc::bad_magic ||
                    e.code == errc::bad_version)
            << "byte " << i << ": " << e.message;
    }
}

TEST_F(Damage, WrongMagic)
{
    std::vector<char> bad = _bytes;
    bad[1] = 'X';
    const error e = open_damaged(bad);
    EXPECT_EQ(e.code, errc::bad_magic);
    EXPECT_EQ(e.message, _bad + ": not a Stasis snapshot (bad magic)");
    EXPECT_EQ(open_damaged({'h', 'e', 'l', 'l', 'o'}).code, errc::bad_magic);
}

TEST_F(Damage, OtherVersion)
{
    std::vector<char> bad = _bytes;
    bad[8] = 2;
    const error e = open_damaged(bad);
    EXPECT_EQ(e.code, errc::bad_version);
    EXPECT_EQ(e.message, _bad + ": snapshot format version 2, but this build reads version 1");
}

TEST_F(Damage, BytesAfterTheTrailer)
{
    std::vector<char> bad = _bytes;
    bad.push_back(0);
    const error e = open_damaged(bad);
    EXPECT_EQ(e.code, errc::corrupted);
    EXPECT_NE(e.message.find("1 bytes follow the trailer"), std::string::npos) << e.message;
}

TEST_F(Damage, DroppedRecordIsCaughtByTheTrailer)
{
    // A whole record cut out leaves every record checksum valid; the trailer's file checksum (or
    // the structure) tells.
    const auto &pk = first(format::record_type::packets);
    std::vector<char> bad(_bytes.begin(), _bytes.begin() + std::ptrdiff_t(pk.offset));
    bad.insert(bad.end(), _bytes.begin() + std::ptrdiff_t(pk.end()), _bytes.end());
    const error e = open_damaged(bad);
    EXPECT_EQ(e.code, errc::corrupted) << e.message;
    EXPECT_NE(e.message.find("(trailer)"), std::string::npos) << e.message;
}

TEST_F(Damage, MissingFile)
{
    auto r = snapshot_reader::open(_dir.file("none"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::io);
    EXPECT_EQ(r.error().message, _dir.file("none") + ": cannot open: No such file or directory");
}

}  // namespace
}  // namespace stasis::snapshot
