// SPDX-License-Identifier: Apache-2.0
// Fields that name an entity (tenant, user, model, tier): an editable combo box the registry's ids
// are offered in, or a text field that completes from them (GET /admin/<kind>). Both still take
// anything typed: a caller the registry does not know is a legitimate check. Without an admin token
// the offers stay empty.
#pragma once

#include "apiclient.h"

#include <QComboBox>
#include <QCompleter>
#include <QLineEdit>
#include <QStringListModel>

namespace sluice {

inline QComboBox *entityPicker(const QString &name, const QString &placeholder, int minimumChars = 12)
{
    auto *c = new QComboBox;
    c->setObjectName(name);
    c->setEditable(true);
    c->setInsertPolicy(QComboBox::NoInsert);
    c->setMinimumContentsLength(minimumChars);
    c->lineEdit()->setPlaceholderText(placeholder);
    return c;
}

// Offers `ids` in a picker, keeping what is typed (or, with `pickFirst`, the first id when nothing
// is); `allowNone` puts an empty choice first.
inline void setPickerChoices(QComboBox *c, const QStringList &ids, bool allowNone = false, bool pickFirst = false)
{
    const QString typed = c->currentText();
    c->clear();
    if (allowNone)
        c->addItem(QString());
    c->addItems(ids);
    c->setCurrentText(typed.isEmpty() && pickFirst && !ids.isEmpty() ? ids.first() : typed);
}

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
