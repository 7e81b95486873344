// SPDX-License-Identifier: Apache-2.0
#include "checkrequest.h"

#include "apipaths.h"
#include "jsonwriter.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace sluice {

int codePointCount(const QString &s)
{
    int n = 0;
    for (QChar c : s) {
        if (!c.isLowSurrogate())
            ++n;
    }
    return n;
}

namespace {

// The rules every id shares, wherever it came from (JSON field or header).
QString checkedId(const QString &field, const QString &s, int maxLength)
{
    if (s.isEmpty())
        throw ApiError::badRequest(QStringLiteral("%1 must not be empty").arg(field));
    if (codePointCount(s) > maxLength)
        throw ApiError::badRequest(QStringLiteral("%1 is longer than %2 characters").arg(field).arg(maxLength));
    if (s.contains(QChar(0)))
        throw ApiError::badRequest(QStringLiteral("%1 must not contain NUL").arg(field));
    // An unpaired surrogate ("\ud800" in JSON) is not a character: written as UTF-8 it would
    // become '?' and share a key (and a usage row) with another id.
    for (qsizetype i = 0; i < s.size(); ++i) {
        const QChar c = s.at(i);
        if (c.isHighSurrogate() && i + 1 < s.size() && s.at(i + 1).isLowSurrogate()) {
            ++i;
            continue;
        }
        if (c.isSurrogate())
            throw ApiError::badRequest(QStringLiteral("%1 holds an unpaired UTF-16 surrogate (not valid Unicode)").arg(field));
    }
    return s;
}

QString readId(const QJsonObject &o, const char *field, bool required, int maxLength)
{
    const QJsonValue v = o.value(QLatin1String(field));
    if (v.isUndefined() || v.isNull()) {
        if (required)
            throw ApiError::badRequest(QStringLiteral("%1 is required").arg(QLatin1String(field)));
        return QString();
    }
    if (!v.isString())
        throw ApiError::badRequest(QStringLiteral("%1 must be a string").arg(QLatin1String(field)));
    return checkedId(QLatin1String(field), v.toString(), maxLength);
}

QString fieldId(const CheckRequest::Field &f, bool required, int maxLength)
{
    if (f.value.isNull()) {
        if (required)
            throw ApiError::badRequest(QStringLiteral("%1 is required").arg(f.name));
        return QString();
    }
    return checkedId(f.name, f.value, maxLength);
}

QString costError(const QString &field) { return QStringLiteral("%1 must be an integer from 1 to 1000000000").arg(field); }

QJsonObject objectBody(const QByteArray &body)
{
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(body, &error);
    if (error.error != QJsonParseError::NoError)
        throw ApiError::badRequest(QStringLiteral("body is not valid JSON: %1 at offset %2")
                                       .arg(error.errorString())
                                       .arg(error.offset));
    if (!doc.isObject())
        throw ApiError::badRequest(QStringLiteral("body must be a JSON object"));
    return doc.object();
}

// The fast reader of a check body: one pass over the bytes, no JSON document. It takes only the
// form every client sends — one flat object whose keys and strings are printable ASCII without
// escapes, whose values are such strings, null or small unsigned integers, with no key twice — and
// only when every field is valid; for anything else it returns false and the general reader
// decides (with its error messages). So both readers agree on every body (tst_answerbytes
// compares them on look-alikes; fuzz_checkrequest on whatever the fuzzer makes).
class FlatCheckReader
{
public:
    explicit FlatCheckReader(const QByteArray &body) : m_p(body.constData()), m_end(body.constData() + body.size()) {}

    bool read(CheckRequest *r)
    {
        skipBlanks();
        if (!take('{'))
            return false;
        skipBlanks();
        unsigned seen = 0;
        if (!take('}')) {
            for (;;) {
                const char *key;
                qsizetype keyLength;
                if (!string(&key, &keyLength))
                    return false;
                skipBlanks();
                if (!take(':'))
                    return false;
                skipBlanks();
                const int field = fieldOf(key, keyLength);
                if (field >= 0) {
                    if (seen & (1u << field))
                        return false; // a key twice: the general reader's rule
                    seen |= 1u << field;
                }
                if (!member(field, r))
                    return false;
                skipBlanks();
                if (take('}'))
                    break;
                if (!take(','))
                    return false;
                skipBlanks();
            }
        }
        skipBlanks();
        // Whatever is missing or left is the general reader's to name.
        return m_p == m_end && (seen & 3u) == 3u && !r->userId.isEmpty() && !r->modelId.isEmpty();
    }

private:
    enum Field { UserId, ModelId, TenantId, ModelTier, ApiKey, Cost };

    static int fieldOf(const char *k, qsizetype n)
    {
        auto is = [k, n](const char *name) { return n == qsizetype(std::strlen(name)) && std::memcmp(k, name, static_cast<size_t>(n)) == 0; };
        if (is("userId"))
            return UserId;
        if (is("modelId"))
            return ModelId;
        if (is("tenantId"))
            return TenantId;
        if (is("modelTier"))
            return ModelTier;
        if (is("apiKey"))
            return ApiKey;
        if (is("cost"))
            return Cost;
        return -1;
    }

    bool member(int field, CheckRequest *r)
    {
        if (m_p != m_end && *m_p == 'n') {
            // null: as absent (a required id that is null is the general reader's error)
            if (m_end - m_p < 4 || std::memcmp(m_p, "null", 4) != 0)
                return false;
            m_p += 4;
            return field != UserId && field != ModelId;
        }
        if (m_p != m_end && *m_p >= '0' && *m_p <= '9') {
            qint64 n = 0;
            const char *start = m_p;
            while (m_p != m_end && *m_p >= '0' && *m_p <= '9' && m_p - start < 12)
                n = n * 10 + (*m_p++ - '0');
            if ((m_p != m_end && (*m_p == '.' || *m_p == 'e' || *m_p == 'E' || (*m_p >= '0' && *m_p <= '9')))
                || (*start == '0' && m_p - start > 1))
                return false; // a fraction, an exponent, a long or a zero-led number
            if (field == Cost) {
                if (n < 1 || n > api::kMaxCost)
                    return false;
                r->cost = n;
                r->costGiven = true;
                return true;
            }
            return field < 0; // a number for an id: the general reader's error
        }
        const char *value;
        qsizetype length;
        if (!string(&value, &length))
            return false;
        switch (field) {
        case UserId: return id(value, length, api::kMaxIdLength, &r->userId);
        case ModelId: return id(value, length, api::kMaxIdLength, &r->modelId);
        case TenantId: return id(value, length, api::kMaxIdLength, &r->tenantId);
        case ModelTier: return id(value, length, api::kMaxIdLength, &r->modelTier);
        case ApiKey: return id(value, length, 256, &r->apiKey, false); // (a secret: never kept in the table of recent ids)
        case Cost: return false; // a string for the cost: the general reader's error
        default: return true;    // a key nobody reads
        }
    }

    static bool id(const char *p, qsizetype n, int maxLength, QString *out, bool shareRecent = true)
    {
        if (n == 0 || n > maxLength)
            return false; // the general reader names the rule
        // (printable ASCII: Latin-1 and UTF-8 alike)
        *out = shareRecent ? recentId(p, n) : QString::fromLatin1(p, n);
        return true;
    }

    // Ids recur: a handful of tenants, models and tiers, and a caller's next request. The ids
    // read last on this thread sit in a small table by a hash of their bytes, and one that comes
    // again is shared rather than made again (a QString is an allocation; 512 slots bound it).
    static QString recentId(const char *p, qsizetype n)
    {
        thread_local std::array<QString, 512> recent;
        // Eight bytes at a time, multiplied and folded (a slot's choice, not a defence: a collision
        // costs a new QString, nothing more).
        quint64 h = static_cast<quint64>(n) * 0x9e3779b97f4a7c15ull;
        qsizetype i = 0;
        for (; i + 8 <= n; i += 8) {
            quint64 w;
            std::memcpy(&w, p + i, 8);
            h = (h ^ w) * 0xff51afd7ed558ccdull;
            h ^= h >> 32;
        }
        quint64 tail = 0;
        std::memcpy(&tail, p + i, static_cast<size_t>(n - i));
        h = (h ^ tail) * 0xc4ceb9fe1a85ec53ull;
        h ^= h >> 29;
        QString &slot = recent[h % recent.size()];
        if (slot.size() == n) {
            const char16_t *s = reinterpret_cast<const char16_t *>(slot.constData());
            qsizetype k = 0;
            while (k < n && s[k] == static_cast<unsigned char>(p[k]))
                ++k;
            if (k == n)
                return slot;
        }
        slot = QString::fromLatin1(p, n);
        return slot;
    }

    // A string of printable ASCII, no escape.
    bool string(const char **begin, qsizetype *length)
    {
        if (!take('"'))
            return false;
        const char *start = m_p;
#ifdef __SSE2__
        // Sixteen bytes at a time while sixteen are left: the first that is not plain ASCII must be
        // the closing quote (a control, '\\' or a byte beyond 0x7e: the general reader's).
        while (m_end - m_p >= 16) {
            const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i *>(m_p));
            const __m128i quote = _mm_cmpeq_epi8(bytes, _mm_set1_epi8('"'));
            const __m128i backslash = _mm_cmpeq_epi8(bytes, _mm_set1_epi8('\\'));
            // (signed compares: bytes from 0x80 on are negative, so "< 0x20" catches them too)
            const __m128i control = _mm_cmplt_epi8(bytes, _mm_set1_epi8(0x20));
            const __m128i del = _mm_cmpeq_epi8(bytes, _mm_set1_epi8(0x7f));
            const int special = _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), _mm_or_si128(control, del)));
            if (!special) {
                m_p += 16;
                continue;
            }
            const int at = __builtin_ctz(static_cast<unsigned>(special));
            if (!(_mm_movemask_epi8(quote) & (1 << at)))
                return false;
            m_p += at;
            *begin = start;
            *length = m_p - start;
            ++m_p;
            return true;
        }
#endif
        for (; m_p != m_end; ++m_p) {
            const auto c = static_cast<unsigned char>(*m_p);
            if (c == '"') {
                *begin = start;
                *length = m_p - start;
                ++m_p;
                return true;
            }
            if (c < 0x20 || c >= 0x7f || c == '\\')
                return false;
        }
        return false;
    }

    void skipBlanks()
    {
        while (m_p != m_end && (*m_p == ' ' || *m_p == '\n' || *m_p == '\r' || *m_p == '\t'))
            ++m_p;
    }
    bool take(char c)
    {
        if (m_p == m_end || *m_p != c)
            return false;
        ++m_p;
        return true;
    }

    const char *m_p;
    const char *m_end;
};

} // namespace

std::optional<CheckRequest> CheckRequest::fromFlatJson(const QByteArray &body)
{
    CheckRequest r;
    if (FlatCheckReader(body).read(&r))
        return r;
    return std::nullopt;
}

CheckRequest CheckRequest::fromJson(const QByteArray &body)
{
    if (std::optional<CheckRequest> r = fromFlatJson(body))
        return std::move(*r);
    return fromJsonDocument(body);
}

CheckRequest CheckRequest::fromJsonDocument(const QByteArray &body)
{
    const QJsonObject o = objectBody(body);
    CheckRequest r;
    r.userId = readId(o, "userId", true, api::kMaxIdLength);
    r.modelId = readId(o, "modelId", true, api::kMaxIdLength);
    r.tenantId = readId(o, "tenantId", false, api::kMaxIdLength);
    r.modelTier = readId(o, "modelTier", false, api::kMaxIdLength);
    r.apiKey = readId(o, "apiKey", false, 256);
    const QJsonValue cost = o.value(QStringLiteral("cost"));
    if (!cost.isUndefined() && !cost.isNull()) {
        const double d = cost.toDouble(-1);
        if (!cost.isDouble() || d != std::floor(d) || d < 1 || d > static_cast<double>(api::kMaxCost))
            throw ApiError::badRequest(costError(QStringLiteral("cost")));
        r.cost = static_cast<qint64>(d);
        r.costGiven = true;
    }
    return r;
}

CheckRequest::Field CheckRequest::Field::fromUtf8(const QString &name, const QByteArray &raw)
{
    if (raw.isNull())
        return {name, QString()};
    if (!raw.isValidUtf8())
        throw ApiError::badRequest(QStringLiteral("%1 is not valid UTF-8").arg(name));
    return {name, QString::fromUtf8(raw)};
}

CheckRequest CheckRequest::fromFields(const Field &user, const Field &model, const Field &tenant, const Field &tier,
                                      const Field &apiKey, const Field &cost)
{
    CheckRequest r;
    r.userId = fieldId(user, true, api::kMaxIdLength);
    r.modelId = fieldId(model, true, api::kMaxIdLength);
    r.tenantId = fieldId(tenant, false, api::kMaxIdLength);
    r.modelTier = fieldId(tier, false, api::kMaxIdLength);
    r.apiKey = fieldId(apiKey, false, 256);
    if (!cost.value.isNull()) {
        const QString v = cost.value.trimmed();
        bool ok = !v.isEmpty() && std::all_of(v.cbegin(), v.cend(), [](QChar c) { return c >= QLatin1Char('0') && c <= QLatin1Char('9'); });
        const qint64 n = ok ? v.toLongLong(&ok) : 0;
        if (!ok || n < 1 || n > api::kMaxCost)
            throw ApiError::badRequest(costError(cost.name));
        r.cost = n;
        r.costGiven = true;
    }
    return r;
}

ReservationRequest ReservationRequest::fromJson(const QByteArray &body, bool withTokens)
{
    const QJsonObject o = objectBody(body);
    ReservationRequest r;
    // Ids are what a store made: letters, digits, '.', '-' and '_', at most 64 of them.
    r.reservationId = readId(o, "reservationId", true, 64);
    for (QChar c : r.reservationId) {
        if (!(c.isLetterOrNumber() && c.unicode() < 128) && c != QLatin1Char('.') && c != QLatin1Char('-') && c != QLatin1Char('_'))
            throw ApiError::badRequest(QStringLiteral("reservationId is not one this server hands out"));
    }
    const QJsonValue tokens = o.value(QStringLiteral("tokens"));
    if (!tokens.isUndefined() && !tokens.isNull()) {
        if (!withTokens)
            throw ApiError::badRequest(QStringLiteral("tokens belongs to /rate-limit/complete, not here"));
        const double d = tokens.toDouble(-1);
        if (!tokens.isDouble() || d != std::floor(d) || d < 0 || d > static_cast<double>(api::kMaxCost))
            throw ApiError::badRequest(QStringLiteral("tokens must be an integer from 0 to 1000000000"));
        r.tokens = static_cast<qint64>(d);
    }
    return r;
}

QByteArray ReservationRequest::toJson() const
{
    JsonWriter w(96);
    w.beginObject().key("reservationId").value(reservationId);
    if (tokens)
        w.key("tokens").value(*tokens);
    w.endObject();
    return w.take();
}

QByteArray CheckRequest::toJson() const
{
    JsonWriter w(256);
    w.beginObject().key("userId").value(userId).key("modelId").value(modelId);
    if (!tenantId.isNull())
        w.key("tenantId").value(tenantId);
    if (!modelTier.isNull())
        w.key("modelTier").value(modelTier);
    if (!apiKey.isNull())
        w.key("apiKey").value(apiKey);
    if (cost != 1 || costGiven)
        w.key("cost").value(cost);
    w.endObject();
    return w.take();
}

} // namespace sluice
