// SPDX-License-Identifier: Apache-2.0
// Edits one policy: scope, the selectors that scope allows (the others are disabled), window,
// limit, enabled, description. It builds a PolicyDto and refuses (stays open, says why) what is
// not even well-formed — a limit that is not a number ("1O0") must never go out as 0; the
// server validates the rest and answers.
#pragma once

#include "policydto.h"

#include <QDialog>
#include <functional>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace sluice {

class PolicyDialog : public QDialog
{
    Q_OBJECT
public:
    explicit PolicyDialog(const PolicyDto &policy, QWidget *parent = nullptr);
    PolicyDto policy() const;
    // Why the form cannot be sent as it is; empty when it can.
    QString validationError() const;
    // With a submitter, OK sends the policy and the dialog closes only when the server took it;
    // a refusal (400, 409, …) is shown in the dialog, which stays open with what was typed.
    using Submitter = std::function<void(const PolicyDto &, std::function<void(const QString &refusal)>)>;
    void setSubmitter(Submitter submitter) { m_submitter = std::move(submitter); }
    QString errorText() const;

public Q_SLOTS:
    void accept() override;
    // Offers the registry's ids of `kind` ("tenants", "users", "models", "tiers") in its picker;
    // what is typed stays (a caller the registry does not know yet may be named).
    void setChoices(const QString &kind, const QStringList &ids);

private:
    void updateSelectors();

    qint64 m_id;
    QComboBox *m_scope, *m_unit, *m_algorithm;
    QComboBox *m_tenant, *m_user, *m_model, *m_tier; // editable, offered the registry's ids
    QLineEdit *m_apiKey, *m_description;
    QSpinBox *m_window, *m_burst;
    QLineEdit *m_limit;
    QCheckBox *m_enabled, *m_shadow;
    QLabel *m_error, *m_windowText;
    Submitter m_submitter;
    bool m_sending = false;
};

} // namespace sluice
