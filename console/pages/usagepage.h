// SPDX-License-Identifier: Apache-2.0
// The Live usage page: per-key count against its limit over time, from the server's
// /admin/events stream (every 250 ms), charted with Qt Charts. Keys are typed, or taken from the
// last check's policies. Never polls: the server pushes.
#pragma once

#include "models/usageseries.h"

#include <QHash>
#include <QPointer>
#include <QWidget>

class QChart;
class QLabel;
class QLineEdit;
class QLineSeries;
class QNetworkReply;
class QValueAxis;

namespace sluice {

class ApiClient;

class UsagePage : public QWidget
{
    Q_OBJECT
public:
    explicit UsagePage(ApiClient *client, QWidget *parent = nullptr);
    ~UsagePage() override;

    void watch(const QStringList &keys);
    void stop();
    const UsageSeries &series() const { return m_series; }

Q_SIGNALS:
    void updated();

private:
    void onEvent(const QJsonObject &event);

    ApiClient *m_client;
    QLineEdit *m_keys;
    QLabel *m_status;
    QChart *m_chart;
    QValueAxis *m_x, *m_y;
    QHash<QString, QLineSeries *> m_lines;
    UsageSeries m_series;
    QPointer<QNetworkReply> m_stream;
    qint64 m_startMs = 0;
};

} // namespace sluice
