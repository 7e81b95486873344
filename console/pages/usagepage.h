// SPDX-License-Identifier: Apache-2.0
// The Live usage page: per-caller count against its limit over clock time, from the server's
// /admin/events stream (every 250 ms), charted with Qt Charts (the limit as a dashed line of the
// same colour). Callers are chosen by identity — scope, then tenant / user / model / tier / API key
// picked from the registry (editable for callers the registry does not know), and unit — or as "the
// most blocked" (GET /admin/top-blocked); never typed as raw window keys. Never polls: the server
// pushes; when the stream ends without the operator stopping it (the server went away), it
// reconnects with a growing pause (1, 2, 4, 5 s …) and carries on the same chart.
#pragma once

#include "models/usageseries.h"

#include <QHash>
#include <QPointer>
#include <QWidget>

class QChart;
class QComboBox;
class QDateTimeAxis;
class QLabel;
class QLineSeries;
class QNetworkReply;
class QTimer;
class QValueAxis;

namespace sluice {

class ApiClient;

class UsagePage : public QWidget
{
    Q_OBJECT
public:
    explicit UsagePage(ApiClient *client, QWidget *parent = nullptr);
    ~UsagePage() override;

    // Watches these window keys (replacing the watched ones) until stop().
    void watch(const QStringList &keys);
    void stop();
    // Fills the pickers from the registry (tenants, users, models, tiers).
    void refreshPickers();
    // The key of the caller the pickers name now ("" with the field it lacks in *why).
    QString pickedKey(QString *why = nullptr) const;
    // Adds the picked caller to the watched keys (at most 10) and watches them.
    void watchPicked();
    // Watches the n most blocked callers.
    void watchMostBlocked(int n = 5);
    // Asks, then empties the windows of the watched callers (DELETE /admin/usage/{key}).
    void resetWatched();
    QStringList watchedKeys() const { return m_watched; }
    bool isReconnecting() const;
    QString statusText() const;
    QComboBox *picker(const QString &name) const; // "scope", "tenant", "user", "model", "tier", "apiKey", "unit"
    const UsageSeries &series() const { return m_series; }
    QChart *chart() const { return m_chart; }

Q_SIGNALS:
    void updated();
    void pickersFilled();
    void watchedChanged();

private:
    void connectStream();
    void onEvent(const QJsonObject &event);
    void onStreamEnd(const QString &why, bool retry);
    void updatePickerStates();
    void clearChart();

    ApiClient *m_client;
    QComboBox *m_scope, *m_tenant, *m_user, *m_model, *m_tier, *m_apiKey, *m_unit;
    QLabel *m_watching;
    QLabel *m_status;
    QChart *m_chart;
    QDateTimeAxis *m_x;
    QValueAxis *m_y;
    QHash<QString, QLineSeries *> m_lines;
    QHash<QString, QLineSeries *> m_limitLines;
    UsageSeries m_series;
    QStringList m_watched;
    QPointer<QNetworkReply> m_stream;
    QTimer *m_reconnect;
    int m_backoffMs = 1000;
    bool m_stopping = false;
};

} // namespace sluice
