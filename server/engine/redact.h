// SPDX-License-Identifier: Apache-2.0
// Secrets never reach a log or an error line: passwords in libpq conninfo strings (key=value and
// postgresql:// URIs) and Redis URLs are masked, and any known secret (the admin token, a
// password) is masked wherever a library's message repeats it.
#pragma once

#include "engine/layer.h"

#include <QString>
#include <QStringList>

namespace sluice {

inline const QString kMasked = QStringLiteral("****");

// "host=db password=s3cret dbname=x" → "host=db password=**** dbname=x";
// "postgresql://u:s3cret@db/x" → "postgresql://u:****@db/x".
QString redactConninfo(const QString &conninfo);
// "redis://user:s3cret@host:6379/0" → "redis://user:****@host:6379/0".
QString redactUrl(const QString &url);
// Every occurrence of each non-empty secret in text replaced by ****.
QString redactSecrets(QString text, const QStringList &secrets);
// The password a conninfo or URL carries (empty when none), to pass to redactSecrets.
QString secretOf(const QString &conninfoOrUrl);

} // namespace sluice
