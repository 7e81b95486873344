// SPDX-License-Identifier: Apache-2.0
// The body of POST /rate-limit/check (design §3) and its validation. Every malformed input is an
// ApiError naming the field; nothing here touches policies or stores.
#pragma once

#include "apierror.h"

#include <QByteArray>
#include <QString>
#include <optional>

namespace sluice {

struct CheckRequest
{
    QString userId;
    QString modelId;
    QString tenantId;   // null when absent
    QString modelTier;  // null when absent
    QString apiKey;     // null when absent (the X-API-Key header is the other way to give it)
    qint64 cost = 1;
    // The request said its cost (a token estimate; gRPC: hits_addend): the usage history counts
    // it as tokens even where no tokens policy weighs it. Absent: 1, and no tokens.
    bool costGiven = false;

    // Throws ApiError(400) with a message naming the field. A flat ASCII body (what clients send)
    // is read in one pass; anything else goes to fromJsonDocument, which answers alike.
    static CheckRequest fromJson(const QByteArray &body);
    // The general reader (QJsonDocument): every body, every error message.
    static CheckRequest fromJsonDocument(const QByteArray &body);
    // The fast reader alone: the request when the body is flat ASCII and valid, else nothing
    // (never an error: the general reader names those).
    static std::optional<CheckRequest> fromFlatJson(const QByteArray &body);

    // The same request from fields a gateway sends one by one (forward-auth headers): each with
    // the name errors should use ("X-User-Id is required") and its value, null when absent.
    struct Field
    {
        QString name;
        QString value;
        // From raw bytes (a header, a protobuf string): invalid UTF-8 is a 400 naming the field,
        // never U+FFFD (two different byte strings would become one id).
        static Field fromUtf8(const QString &name, const QByteArray &raw);
    };
    static CheckRequest fromFields(const Field &user, const Field &model, const Field &tenant, const Field &tier,
                                   const Field &apiKey, const Field &cost);
    QByteArray toJson() const;
};

// The body of POST /rate-limit/complete and /rate-limit/extend (design §10).
struct ReservationRequest
{
    QString reservationId;
    std::optional<qint64> tokens; // complete only: the actual count (0 allowed); absent keeps the estimate

    // Throws ApiError(400) naming the field. withTokens: the body may carry `tokens`.
    static ReservationRequest fromJson(const QByteArray &body, bool withTokens);
    QByteArray toJson() const;
};

// Code points, not UTF-16 units: "128 characters" means what a person counts.
int codePointCount(const QString &s);

} // namespace sluice
