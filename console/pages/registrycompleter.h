// SPDX-License-Identifier: Apache-2.0
// A text field that names an entity (tenant, user, model, tier) is offered the registry's ids as
// completions (GET /admin/<kind>), and still takes anything typed: a caller the registry does not
// know is a legitimate check. Without an admin token the completions stay empty.
#pragma once

#include "apiclient.h"

#include <QCompleter>
#include <QLineEdit>
#include <QStringListModel>

namespace sluice {

inline void offerRegistryIds(ApiClient *client, QObject *context, QLineEdit *field, const QString &kind)
{
    auto *model = field->completer() ? qobject_cast<QStringListModel *>(field->completer()->model()) : nullptr;
    if (!model) {
        model = new QStringListModel(field);
        auto *completer = new QCompleter(model, field);
        completer->setCaseSensitivity(Qt::CaseInsensitive);
        completer->setCompletionMode(QCompleter::UnfilteredPopupCompletion);
        field->setCompleter(completer);
    }
    if (!client->hasAdminToken())
        return;
    client->registryIds(kind, context, [model](const QStringList &ids, const ApiError *error) {
        if (!error)
            model->setStringList(ids);
    });
}

} // namespace sluice
