// The frames waiting in a stopped QEMU's tap: taken out and kept with the guest's saved state, put back
// before it runs again.
//
// A tap queues what the host side sends it until its reader (QEMU) reads it, and QEMU reads only while
// the guest runs. A frame that reached the tap before the guest stopped but after QEMU's last read waits
// there: an in-place resume reads it, but a swap-out loses it, because the kernel drops a tap's queue when
// its last file descriptor closes (QEMU exits). So the save takes the queue (QEMU's own descriptor,
// duplicated with pidfd_getfd, read until empty), writes it to a pcap file beside the state, and sends it
// back into the tap at once; a restore sends the file's frames into the new QEMU's tap before it runs.
// Sending is from the host side through an AF_PACKET socket in QEMU's network namespace with
// PACKET_QDISC_BYPASS, which hands the frame to the tap's transmit directly: no qdisc to reorder or drop
// it, and no other packet socket on the tap (a delay node's af_packet port) sees it as traffic.
//
// QEMU 7.2 reads one frame from a tap even while the guest is stopped (net/tap.c tap_send reads, then
// finds that the NIC cannot take it, queues it in its own memory and stops reading), and that frame is in
// no saved state. So as soon as a guest has stopped, a guard frame is sent into each of its taps: QEMU
// reads it into that one place, and every real frame after it stays in the tap. The guard goes to no
// guest's MAC (02:53:54:41:53:00, EtherType 0x88b5, "local experimental"), so QEMU's virtio-net filter
// drops it when the guest runs again (a guest in promiscuous mode sees one such frame). A take that finds
// the guard still in the tap means a real frame came first and is held by QEMU (`qemu_holds_one`).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "stasis/node/error.hpp"

namespace stasis::node {

using frame_list = std::vector<std::string>;  // Ethernet frames, oldest first

// The guard frame, and whether a frame is one.
std::string guard_frame();
bool is_guard_frame(const std::string &frame);

struct tap_queue {
    frame_list frames;            // the real frames, guards left out
    bool qemu_holds_one = false;  // the guard was still in the tap: QEMU holds a real frame of its own
};

// Every frame queued in `tap` for the process `pid` (which has the tap open), removed from the queue.
result<tap_queue> take_tap_queue(pid_t pid, const std::string &tap);

// Sends `frames` into `tap` from the host side, in `pid`'s network namespace: the tap queues them for
// its reader.
result<void> put_tap_queue(pid_t pid, const std::string &tap, const frame_list &frames);

// A pcap file (Ethernet) of `frames`, written whole and fsynced; and read back.
result<void> write_frames(const std::string &path, const frame_list &frames);
result<frame_list> read_frames(const std::string &path);

}  // namespace stasis::node
