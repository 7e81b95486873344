// SPDX-License-Identifier: Apache-2.0
// Edits one policy: scope, the selectors that scope allows (the others are disabled), window,
// limit, enabled, description. It only builds a PolicyDto; the server validates and answers.
#pragma once

#include "policydto.h"

#include <QDialog>

class QCheckBox;
class QComboBox;
class QLineEdit;
class QSpinBox;

namespace sluice {

class PolicyDialog : public QDialog
{
    Q_OBJECT
public:
    explicit PolicyDialog(const PolicyDto &policy, QWidget *parent = nullptr);
    PolicyDto policy() const;

private:
    void updateSelectors();

    qint64 m_id;
    QComboBox *m_scope;
    QLineEdit *m_tenant, *m_user, *m_apiKey, *m_model, *m_tier, *m_description;
    QSpinBox *m_window;
    QLineEdit *m_limit;
    QCheckBox *m_enabled;
};

} // namespace sluice
