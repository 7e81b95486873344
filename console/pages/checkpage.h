// SPDX-License-Identifier: Apache-2.0
// The Check page: a tenant / user / model / tier / API key form, the verdict (ALLOWED/BLOCKED),
// the primary policy's usage as a bar, every applicable policy and the cause. The demo's
// scenarios A, B and C are one click each. Network only through ApiClient.
#pragma once

#include "checkrequest.h"
#include "decision.h"

#include <QWidget>
#include <optional>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
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
    // Offers the registry's tenants, users and models as completions of the fields.
    void refreshPickers();

    QString verdict() const;
    QString cause() const;
    // Each applicable policy as "SCOPE|window|state" (state: violated, shadow, shadow: would block).
    QStringList policyStates() const;
    // The reservation of the last admitted check (empty when none) and what became of it.
    QString reservationId() const { return m_reservationId; }
    QString reservationText() const;
    void setCost(qint64 cost);
    // The headline bar: the policy that binds (the refusing one, else the nearest its limit by
    // share), as "count / limit unit — label", and whether it is drawn red (blocked or at its limit).
    QString headline() const;
    // A scenario's run of several checks, counted ("11 sent: 10 allowed, 1 blocked"); empty after
    // a single check.
    QString sequenceText() const;
    bool headlineRed() const;
    // Completes the reservation shown (with the actual tokens when set), or extends its leases.
    void completeReservation(std::optional<qint64> actualTokens);
    void extendReservation();
    // One chat request through the server's inference door (design §15) with the form's API key,
    // model and user: the reply, its usage and the tokens left, or why not.
    void sendChat(const QString &message, int maxTokens);
    QString chatText() const;
    bool chatRed() const;

protected:
    bool eventFilter(QObject *watched, QEvent *event) override; // Enter in Cost sends

Q_SIGNALS:
    void answered(int status);
    void reservationAnswered(int status);
    void countsRefreshed(int status); // after Complete: the counts as they stand (a look, nothing charged)
    void chatAnswered(int status);

private:
    void sendOne(const CheckRequest &r);
    void show(int status, const Decision &d, const QString &error);
    // The headline bar (what binds) and every policy's count.
    void showUsage(const Decision &d);
    void refreshCounts();
    void showChat(const QString &text, bool red);

    ApiClient *m_client;
    void showReservation(const Decision &d);

    QLineEdit *m_tenant, *m_user, *m_model, *m_apiKey;
    QComboBox *m_tier;
    QSpinBox *m_cost, *m_actual;
    QCheckBox *m_useActual;
    QPushButton *m_check, *m_complete, *m_extend;
    QLabel *m_verdict, *m_summary, *m_cause, *m_reservation;
    QString m_reservationId;
    CheckRequest m_lastRequest; // of the answer shown
    quint64 m_answers = 0;      // answers shown so far (a late look at older counts is dropped)
    QProgressBar *m_usage;
    bool m_usageRed = false;
    QTreeWidget *m_policies;
    int m_pending = 0;
    int m_sent = 0, m_allowedInRun = 0, m_blockedInRun = 0, m_failedInRun = 0;
    QLabel *m_sequence;
    QLineEdit *m_chatMessage;
    QSpinBox *m_chatMaxTokens;
    QPushButton *m_sendChat;
    QLabel *m_chatResult;
};

} // namespace sluice
