#include "store/open_store.h"

#include "store/file_store.h"

namespace ms::store {

Result<std::shared_ptr<KvStore>> open_store(const StoreSpec& spec) {
    if (!spec.etcd_endpoint.empty()) {
        auto s = EtcdStore::open(spec.etcd_endpoint, spec.etcd);
        if (!s) {
            return std::unexpected(s.error());
        }
        return std::shared_ptr<KvStore>(std::move(*s));
    }
    auto s = FileStore::open(spec.dir);
    if (!s) {
        return std::unexpected(s.error());
    }
    return std::shared_ptr<KvStore>(std::move(*s));
}

}  // namespace ms::store
