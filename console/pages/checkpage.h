// SPDX-License-Identifier: Apache-2.0
// The Check page: a tenant / user / model / tier / API key form, the verdict (ALLOWED/BLOCKED),
// the primary policy's usage as a bar, every applicable policy and the cause. The demo's
// scenarios A, B and C are one click each. Network only through ApiClient.
#pragma once

#include "checkrequest.h"
#include "decision.h"

#include <QWidget>

class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QTreeWidget;

namespace sluice {

class ApiClient;

class CheckPage : public QWidget
{
    Q_OBJECT
public:
    explicit CheckPage(ApiClient *client, QWidget *parent = nullptr);

    void setRequest(const QString &tenant, const QString &user, const QString &model, const QString &tier,
                    const QString &apiKey = QString());
    // Sends the form `times` times in a row (a scenario's burst) and shows the last answer.
    void send(int times = 1);

    QString verdict() const;
    QString cause() const;

Q_SIGNALS:
    void answered(int status);

private:
    void sendOne(const CheckRequest &r);
    void show(int status, const Decision &d, const QString &error);

    ApiClient *m_client;
    QLineEdit *m_tenant, *m_user, *m_model, *m_apiKey;
    QComboBox *m_tier;
    QPushButton *m_check;
    QLabel *m_verdict, *m_summary, *m_cause;
    QProgressBar *m_usage;
    QTreeWidget *m_policies;
    int m_pending = 0;
};

} // namespace sluice
