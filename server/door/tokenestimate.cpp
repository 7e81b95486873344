// SPDX-License-Identifier: Apache-2.0
#include "door/tokenestimate.h"

#include <QJsonArray>
#include <QJsonDocument>

namespace sluice {

namespace {

enum class CharClass { Letter, Digit, Blank, Ideograph, Other };

CharClass classOf(char32_t c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '\'')
        return CharClass::Letter;
    if (c >= '0' && c <= '9')
        return CharClass::Digit;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
        return CharClass::Blank;
    if (c < 0x80)
        return CharClass::Other;
    // CJK ideographs, kana, hangul, fullwidth forms: about one token each.
    if ((c >= 0x2E80 && c <= 0x9FFF) || (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFF00 && c <= 0xFFEF)
        || (c >= 0x20000 && c <= 0x2FFFF))
        return CharClass::Ideograph;
    if (QChar::isLetterOrNumber(c))
        return CharClass::Letter;
    return CharClass::Other;
}

bool isPositiveInteger(const QJsonValue &v, qint64 max)
{
    if (!v.isDouble())
        return false;
    const double d = v.toDouble();
    return d >= 1 && d <= double(max) && d == double(qint64(d));
}

// A prompt or input: a string, an array of strings, an array of token ids, or an array of those.
bool promptTokens(const QJsonValue &v, qint64 *tokens, bool nested = false)
{
    if (v.isString()) {
        *tokens += estimateTextTokens(v.toString());
        return true;
    }
    if (!v.isArray())
        return false;
    for (const QJsonValue &item : v.toArray()) {
        if (item.isDouble())
            *tokens += 1; // a token id
        else if (item.isString())
            *tokens += estimateTextTokens(item.toString());
        else if (!nested && item.isArray()) {
            if (!promptTokens(item, tokens, true))
                return false;
        } else
            return false;
    }
    return true;
}

// A chat message's content: a string, or parts ({"type":"text","text":…}, images, audio).
qint64 contentTokens(const QJsonValue &content)
{
    if (content.isString())
        return estimateTextTokens(content.toString());
    qint64 n = 0;
    if (content.isArray()) {
        for (const QJsonValue &part : content.toArray()) {
            const QJsonObject p = part.toObject();
            const QString type = p.value(QStringLiteral("type")).toString();
            if (p.value(QStringLiteral("text")).isString())
                n += estimateTextTokens(p.value(QStringLiteral("text")).toString());
            else if (type == QStringLiteral("image_url") || type == QStringLiteral("input_image"))
                n += 765; // a 1024×1024 image at high detail (OpenAI's count): more is rare
            else
                n += estimateTextTokens(QString::fromUtf8(QJsonDocument(p).toJson(QJsonDocument::Compact)));
        }
    }
    return n;
}

} // namespace

qint64 estimateTextTokens(QStringView text)
{
    qint64 tokens = 0;
    CharClass run = CharClass::Other;
    qint64 runLength = 0;
    auto close = [&] {
        if (runLength == 0)
            return;
        switch (run) {
        case CharClass::Letter: tokens += 1 + (runLength - 1) / 8; break;
        case CharClass::Digit: tokens += (runLength + 2) / 3; break;
        case CharClass::Blank: tokens += 1; break;
        case CharClass::Ideograph:
        case CharClass::Other: tokens += runLength; break;
        }
        runLength = 0;
    };
    const auto ucs4 = text.toUcs4();
    for (qsizetype i = 0; i < ucs4.size(); ++i) {
        const char32_t c = ucs4.at(i);
        CharClass k = classOf(c);
        // One space before a word belongs to the word (" the" is one token).
        if (k == CharClass::Blank && c == ' ' && i + 1 < ucs4.size() && classOf(ucs4.at(i + 1)) == CharClass::Letter
            && (runLength == 0 || run != CharClass::Blank)) {
            close();
            continue;
        }
        if (k != run || k == CharClass::Other || k == CharClass::Ideograph) {
            close();
            run = k;
        }
        ++runLength;
    }
    close();
    return tokens;
}

TokenEstimate estimateRequest(DoorApi api, const QJsonObject &body, qint64 defaultMaxTokens, QString *error)
{
    TokenEstimate e;
    auto fail = [error](const QString &message) {
        *error = message;
        return TokenEstimate();
    };
    if (!body.value(QStringLiteral("model")).isString() || body.value(QStringLiteral("model")).toString().isEmpty())
        return fail(QStringLiteral("model is required (a string)"));
    const QJsonValue stream = body.value(QStringLiteral("stream"));
    if (!stream.isUndefined() && !stream.isNull() && !stream.isBool())
        return fail(QStringLiteral("stream must be true or false"));
    const QJsonValue user = body.value(QStringLiteral("user"));
    if (!user.isUndefined() && !user.isNull() && !user.isString())
        return fail(QStringLiteral("user must be a string"));
    qint64 choices = 1;
    for (const char *field : {"n", "best_of"}) {
        const QJsonValue n = body.value(QLatin1String(field));
        if (n.isUndefined() || n.isNull())
            continue;
        if (!isPositiveInteger(n, 128))
            return fail(QStringLiteral("%1 must be an integer from 1 to 128").arg(QLatin1String(field)));
        choices = std::max(choices, qint64(n.toDouble()));
    }
    auto maxTokens = [&](std::initializer_list<const char *> fields, qint64 fallback, qint64 *out) {
        for (const char *field : fields) {
            const QJsonValue v = body.value(QLatin1String(field));
            if (v.isUndefined() || v.isNull())
                continue;
            if (!isPositiveInteger(v, 100'000'000)) {
                *error = QStringLiteral("%1 must be a positive integer").arg(QLatin1String(field));
                return false;
            }
            *out = qint64(v.toDouble());
            return true;
        }
        *out = fallback;
        return true;
    };
    switch (api) {
    case DoorApi::ChatCompletions: {
        const QJsonValue messages = body.value(QStringLiteral("messages"));
        if (!messages.isArray() || messages.toArray().isEmpty())
            return fail(QStringLiteral("messages is required (a non-empty array)"));
        for (const QJsonValue &m : messages.toArray()) {
            if (!m.isObject())
                return fail(QStringLiteral("each message must be an object"));
            const QJsonObject message = m.toObject();
            e.promptTokens += 3 + contentTokens(message.value(QStringLiteral("content")));
            if (message.value(QStringLiteral("name")).isString())
                e.promptTokens += 1 + estimateTextTokens(message.value(QStringLiteral("name")).toString());
            if (message.contains(QStringLiteral("tool_calls")))
                e.promptTokens += estimateTextTokens(QString::fromUtf8(
                    QJsonDocument(message.value(QStringLiteral("tool_calls")).toArray()).toJson(QJsonDocument::Compact)));
        }
        e.promptTokens += 3;
        for (const char *field : {"tools", "functions"}) {
            if (body.value(QLatin1String(field)).isArray())
                e.promptTokens += estimateTextTokens(
                    QString::fromUtf8(QJsonDocument(body.value(QLatin1String(field)).toArray()).toJson(QJsonDocument::Compact)));
        }
        qint64 max = 0;
        if (!maxTokens({"max_completion_tokens", "max_tokens"}, defaultMaxTokens, &max))
            return TokenEstimate();
        e.outputTokens = max * choices;
        break;
    }
    case DoorApi::Completions: {
        if (!promptTokens(body.value(QStringLiteral("prompt")), &e.promptTokens))
            return fail(QStringLiteral("prompt is required (a string, an array of strings or of token ids)"));
        qint64 max = 0;
        if (!maxTokens({"max_tokens"}, 16, &max)) // OpenAI's default for completions
            return TokenEstimate();
        e.outputTokens = max * choices;
        break;
    }
    case DoorApi::Embeddings:
        if (!promptTokens(body.value(QStringLiteral("input")), &e.promptTokens))
            return fail(QStringLiteral("input is required (a string, an array of strings or of token ids)"));
        break;
    }
    e.promptTokens = std::max<qint64>(e.promptTokens, 1);
    return e;
}

} // namespace sluice
