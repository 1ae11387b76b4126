#include "mayastor-client/node_view.h"

#include "mayastor-client/table.h"

namespace ms::client {

std::string render_bdevs(const mayastor::Bdevs& reply, const Style& style) {
    if (reply.bdevs().empty()) {
        return style.verbosity > 0 ? "No bdevs found\n" : "";
    }
    Table table;
    table.columns = sheet_columns({"UUID", "NUM_BLOCKS", "BLK_SIZE", "CLAIMED_BY", "NAME", "SHARE_URI"});
    for (const auto& b : reply.bdevs()) {
        table.rows.push_back({b.uuid(), std::to_string(b.num_blocks()), std::to_string(b.blk_size()),
                              b.claimed_by(), b.name(), b.share_uri()});
    }
    return render_table(table, style.verbosity);
}

std::string render_devices(const mayastor::ListBlockDevicesReply& reply, const Style& style) {
    if (reply.devices().empty()) {
        return style.verbosity > 0 ? "No devices found\n" : "";
    }
    Table table;
    table.columns = sheet_columns({"DEVNAME", "DEVTYPE", ">MAJOR", "MINOR", ">SIZE", "AVAILABLE", "MODEL",
                                   "PARTTYPE", "FSTYPE", "FSUUID", "MOUNTPOINT", "DEVPATH", "DEVLINKS"});
    for (const auto& d : reply.devices()) {
        std::string parttype;
        if (d.has_partition()) {
            parttype = d.partition().scheme() + ":" + d.partition().typeid_();
        }
        std::string links;
        for (const auto& l : d.devlinks()) {
            links += links.empty() ? "\"" : " \"";
            links += l + "\"";
        }
        const auto& fs = d.filesystem();  // the default instance (empty strings) when unset
        table.rows.push_back({d.devname(), d.devtype(), std::to_string(d.devmajor()),
                              std::to_string(d.devminor()), std::to_string(d.size()),
                              d.available() ? "yes" : "no", d.model(), parttype, fs.fstype(), fs.uuid(),
                              fs.mountpoint(), d.devpath(), links});
    }
    return render_table(table, style.verbosity);
}

std::string render_resource_usage(const mayastor::GetResourceUsageReply& reply, const Style& style) {
    const auto& u = reply.usage();
    Table table;
    table.columns = sheet_columns({">SOFT_FAULTS", ">HARD_FAULTS", ">VOLUNTARY_CSW", ">INVOLUNTARY_CSW"});
    table.rows.push_back({std::to_string(u.soft_faults()), std::to_string(u.hard_faults()),
                          std::to_string(u.vol_csw()), std::to_string(u.invol_csw())});
    return render_table(table, style.verbosity);
}

std::string controller_state_word(int state) {
    switch (state) {
        case mayastor::NEW:
            return "new";
        case mayastor::INITIALIZING:
            return "init";
        case mayastor::RUNNING:
            return "running";
        case mayastor::FAULTED:
            return "faulted";
        case mayastor::UNCONFIGURING:
            return "unconfiguring";
        case mayastor::UNCONFIGURED:
            return "unconfigured";
        default:
            return "unknown";
    }
}

std::string render_controllers(const mayastor::ListNvmeControllersReply& reply, const Style& style) {
    if (reply.controllers().empty()) {
        return style.verbosity > 0 ? "No NVMe controllers found\n" : "";
    }
    Table table;
    table.columns = sheet_columns({"NAMEs", "SIZE", "STATE", "BLKSIZE"});
    for (const auto& c : reply.controllers()) {
        table.rows.push_back({c.name(), std::to_string(c.size()), controller_state_word(c.state()),
                              std::to_string(c.blk_size())});
    }
    return render_table(table, style.verbosity);
}

}  // namespace ms::client
