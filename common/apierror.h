// SPDX-License-Identifier: Apache-2.0
// The one error type of the API: an HTTP status, a machine code and a sentence for a person.
// Handlers throw or return it; exactly one function (HttpApi) turns it into a response.
#pragma once

#include <QByteArray>
#include <QString>
#include <exception>

namespace sluice {

class ApiError : public std::exception
{
public:
    ApiError(int status, QString code, QString message)
        : m_status(status), m_code(std::move(code)), m_message(std::move(message)) {}

    static ApiError badRequest(const QString &message) { return {400, QStringLiteral("invalid_request"), message}; }
    static ApiError unauthorized(const QString &message) { return {401, QStringLiteral("unauthorized"), message}; }
    static ApiError forbidden(const QString &message) { return {403, QStringLiteral("forbidden"), message}; }
    static ApiError notFound(const QString &message) { return {404, QStringLiteral("not_found"), message}; }
    static ApiError methodNotAllowed(const QString &message) { return {405, QStringLiteral("method_not_allowed"), message}; }
    static ApiError conflict(const QString &message) { return {409, QStringLiteral("conflict"), message}; }
    static ApiError payloadTooLarge(const QString &message) { return {413, QStringLiteral("payload_too_large"), message}; }
    static ApiError unsupportedMediaType(const QString &message) { return {415, QStringLiteral("unsupported_media_type"), message}; }
    static ApiError internal(const QString &message) { return {500, QStringLiteral("internal_error"), message}; }
    static ApiError unavailable(const QString &message) { return {503, QStringLiteral("store_unavailable"), message}; }

    int status() const { return m_status; }
    const QString &code() const { return m_code; }
    const QString &message() const { return m_message; }
    const char *what() const noexcept override { return "sluice::ApiError"; }

    // {"error":{"code":"…","message":"…"}}
    QByteArray toJson() const;
    // Parses an error body; returns false when the body is not one.
    static bool fromJson(const QByteArray &body, int status, ApiError *out);

private:
    int m_status;
    QString m_code;
    QString m_message;
};

} // namespace sluice
