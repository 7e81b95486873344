// SPDX-License-Identifier: Apache-2.0
// The Top blocked page: the window keys with the most blocked requests (/admin/top-blocked).
#pragma once

#include <QWidget>

class QLabel;
class QTreeWidget;

namespace sluice {

class ApiClient;

class TopBlockedPage : public QWidget
{
    Q_OBJECT
public:
    explicit TopBlockedPage(ApiClient *client, QWidget *parent = nullptr);
    void refresh();
    int rows() const;

Q_SIGNALS:
    void refreshed();

private:
    ApiClient *m_client;
    QTreeWidget *m_table;
    QLabel *m_message;
};

} // namespace sluice
