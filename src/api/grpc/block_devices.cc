#include "api/grpc/block_devices.h"

#include <blkid/blkid.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace ms::api {

namespace fs = std::filesystem;

namespace {

std::string read_line(const fs::path& p) {
    std::ifstream in(p);
    std::string s;
    std::getline(in, s);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t')) {
        s.pop_back();
    }
    std::size_t b = s.find_first_not_of(' ');
    return b == std::string::npos ? std::string() : s.substr(b);
}

std::map<std::string, std::string> read_uevent(const fs::path& dir) {
    std::map<std::string, std::string> out;
    std::ifstream in(dir / "uevent");
    std::string line;
    while (std::getline(in, line)) {
        auto eq = line.find('=');
        if (eq != std::string::npos) {
            out[line.substr(0, eq)] = line.substr(eq + 1);
        }
    }
    return out;
}

template <typename T>
T to_number(const std::string& s) {
    T v{};
    std::istringstream in(s);
    in >> v;
    return in ? v : T{};
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mount(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
            out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

// "major:minor" -> first mount point.
std::map<std::string, std::string> read_mounts(const std::string& path) {
    std::map<std::string, std::string> out;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::string id, parent, devno, root, mountpoint;
        if (f >> id >> parent >> devno >> root >> mountpoint) {
            out.emplace(devno, unescape_mount(mountpoint));
        }
    }
    return out;
}

// "/dev/sda1" -> its links under /dev/disk/by-*. Link targets are taken relative to the folder
// above `dev_disk` (/dev), so that a tree elsewhere (tests) names devices the same way.
std::map<std::string, std::vector<std::string>> read_devlinks(const std::string& dev_disk) {
    std::map<std::string, std::vector<std::string>> out;
    fs::path dev_root = fs::path(dev_disk).parent_path();
    std::error_code ec;
    for (const auto& dir : fs::directory_iterator(dev_disk, ec)) {
        std::error_code ec2;
        for (const auto& link : fs::directory_iterator(dir.path(), ec2)) {
            std::error_code ec3;
            if (!link.is_symlink(ec3)) {
                continue;
            }
            fs::path target = fs::read_symlink(link.path(), ec3);
            if (ec3) {
                continue;
            }
            target = fs::weakly_canonical(link.path().parent_path() / target, ec3);
            if (ec3) {
                continue;
            }
            out["/dev/" + target.lexically_relative(dev_root).string()].push_back(link.path().string());
        }
    }
    for (auto& [dev, links] : out) {
        std::sort(links.begin(), links.end());
    }
    return out;
}

struct Probe {
    std::string fstype, label, uuid;
    std::string part_scheme, part_type, part_uuid, part_name;
};

Probe probe_device(const std::string& devname) {
    Probe p;
    blkid_probe pr = blkid_new_probe_from_filename(devname.c_str());
    if (pr == nullptr) {
        return p;
    }
    blkid_probe_enable_superblocks(pr, 1);
    blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID | BLKID_SUBLKS_TYPE);
    blkid_probe_enable_partitions(pr, 1);
    blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
    if (blkid_do_safeprobe(pr) == 0) {
        auto value = [&](const char* name) {
            const char* v = nullptr;
            return blkid_probe_lookup_value(pr, name, &v, nullptr) == 0 && v != nullptr ? std::string(v)
                                                                                        : std::string();
        };
        p.fstype = value("TYPE");
        p.label = value("LABEL");
        p.uuid = value("UUID");
        p.part_scheme = value("PART_ENTRY_SCHEME");
        p.part_type = value("PART_ENTRY_TYPE");
        p.part_uuid = value("PART_ENTRY_UUID");
        p.part_name = value("PART_ENTRY_NAME");
    }
    blkid_free_probe(pr);
    return p;
}

struct Entry {
    std::string name;  // sysfs name
    fs::path sys;      // canonical sysfs folder
    bool partition = false;
    std::string parent;  // sysfs name of the disk, for partitions
    uint32_t number = 0;
};

}  // namespace

bool usable_major(uint32_t major) {
    return major == 7 || major == 8 || major == 43 || major == 259;
}

bool usable_partition(const mayastor::BlockDevice& dev) {
    if (!dev.has_partition()) {
        return true;
    }
    const auto& p = dev.partition();
    if (p.scheme() == "gpt") {
        std::string t = p.typeid_();
        std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
        return t == "0fc63daf-8483-4772-8e79-3d69d8477de4";
    }
    if (p.scheme() == "dos") {
        return p.typeid_() == "0x83";
    }
    return false;
}

std::vector<mayastor::BlockDevice> list_block_devices(bool all, const BlockDeviceScan& scan) {
    std::vector<Entry> entries;
    std::error_code ec;
    for (const auto& d : fs::directory_iterator(scan.sys_class_block, ec)) {
        Entry e;
        e.name = d.path().filename().string();
        std::error_code ec2;
        e.sys = fs::canonical(d.path(), ec2);
        if (ec2) {
            e.sys = d.path();
        }
        e.partition = fs::exists(e.sys / "partition", ec2);
        if (e.partition) {
            e.parent = e.sys.parent_path().filename().string();
            e.number = to_number<uint32_t>(read_line(e.sys / "partition"));
        }
        entries.push_back(std::move(e));
    }
    // Disks by name, each followed by its partitions by number.
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        const std::string& da = a.partition ? a.parent : a.name;
        const std::string& db = b.partition ? b.parent : b.name;
        if (da != db) {
            return da < db;
        }
        if (a.partition != b.partition) {
            return !a.partition;
        }
        return a.number < b.number;
    });
    std::map<std::string, bool> has_partitions;
    std::map<std::string, std::string> models;
    for (const auto& e : entries) {
        if (e.partition) {
            has_partitions[e.parent] = true;
        } else {
            models[e.name] = read_line(e.sys / "device" / "model");
        }
    }
    auto mounts = read_mounts(scan.mountinfo);
    auto links = read_devlinks(scan.dev_disk);

    std::vector<mayastor::BlockDevice> out;
    for (const auto& e : entries) {
        auto uevent = read_uevent(e.sys);
        mayastor::BlockDevice dev;
        std::string devname = uevent.count("DEVNAME") ? uevent["DEVNAME"] : e.name;
        std::replace(devname.begin(), devname.end(), '!', '/');
        dev.set_devname("/dev/" + devname);
        dev.set_devtype(e.partition ? "partition" : "disk");
        std::string devno = read_line(e.sys / "dev");
        auto colon = devno.find(':');
        if (colon != std::string::npos) {
            dev.set_devmajor(to_number<uint32_t>(devno.substr(0, colon)));
            dev.set_devminor(to_number<uint32_t>(devno.substr(colon + 1)));
        }
        dev.set_model(models[e.partition ? e.parent : e.name]);
        std::string sys = e.sys.string();
        dev.set_devpath(sys.starts_with("/sys/") ? sys.substr(4) : sys);
        if (auto it = links.find(dev.devname()); it != links.end()) {
            for (const auto& l : it->second) {
                dev.add_devlinks(l);
            }
        }
        dev.set_size(to_number<uint64_t>(read_line(e.sys / "size")));

        Probe probe;
        if (scan.probe && dev.size() > 0) {
            probe = probe_device(dev.devname());
        }
        if (e.partition) {
            auto* p = dev.mutable_partition();
            p->set_parent("/dev/" + e.parent);
            p->set_number(e.number);
            p->set_name(!probe.part_name.empty() ? probe.part_name : uevent["PARTNAME"]);
            p->set_scheme(probe.part_scheme);
            p->set_typeid_(probe.part_type);
            p->set_uuid(probe.part_uuid);
        }
        std::string mountpoint;
        if (auto it = mounts.find(devno); it != mounts.end()) {
            mountpoint = it->second;
        }
        if (!probe.fstype.empty() || !mountpoint.empty()) {
            auto* f = dev.mutable_filesystem();
            f->set_fstype(probe.fstype);
            f->set_label(probe.label);
            f->set_uuid(probe.uuid);
            f->set_mountpoint(mountpoint);
        }
        bool whole_disk_free = e.partition || !has_partitions[e.name];
        dev.set_available(whole_disk_free && dev.size() > 0 && usable_major(dev.devmajor()) &&
                          usable_partition(dev) && probe.fstype.empty() && mountpoint.empty());
        if (all || dev.available()) {
            out.push_back(std::move(dev));
        }
    }
    return out;
}

}  // namespace ms::api
